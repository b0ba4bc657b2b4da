"""The question sets of the answer benchmark, each with its corpus and how to check a citation.

* ``xquad``: XQuAD-en; a citation is right when its passage contains a reference answer.
* ``hotpotqa``: HotpotQA (distractor); a citation is right when its passage is a supporting one.
* ``realistic``: the files of ``benchmarks/data/realistic`` (text, HTML, Markdown, reST, PDF),
  ingested with ``arag ingest``'s pipeline, and ``benchmarks/data/realistic_questions.jsonl``;
  a citation is right when it names the question's gold file;
* ``xquad-nearmiss``: the held-out half of :func:`arag.evaluation.splits.xquad_split`, XQuAD
  with every other paragraph left out, so a near miss is asked over the rest of its article;
* ``belebele-ko``: the held-out half of the Korean Belebele split, Korean questions over
  Korean passages (CJK measured apart). Its reference answers are multiple-choice options,
  rarely verbatim, so an answer is *correct* when it cites the gold passage.

The near-miss sets use only their held-out halves: their fit halves set the thresholds
(``python -m benchmarks.abstention``).

Every question carries a *kind*: ``answerable`` (XQuAD and HotpotQA questions all are),
``near_miss`` (same domain as the corpus, not answerable from it) or ``out_of_corpus``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from arag.evaluation.datasets import HOTPOT, SHARED_DATA, XQUAD_EN, Dataset, Item, load_dataset
from arag.evaluation.metrics import normalize_answer
from arag.evaluation.splits import load_split
from tools.index.scoring import spaceless_share

ROOT = Path(__file__).resolve().parents[2]
REALISTIC_CORPUS = ROOT / "benchmarks" / "data" / "realistic"
REALISTIC_QUESTIONS = ROOT / "benchmarks" / "data" / "realistic_questions.jsonl"
KINDS = ("answerable", "near_miss", "out_of_corpus")
SETS = ("realistic", "xquad", "hotpotqa", "xquad-nearmiss", "belebele-ko")


@dataclass
class QuestionSet:
    """Questions, the corpus they are asked against, and the citation check."""

    name: str
    dataset: Dataset
    """Its passages are ingested as they are; empty when ``files`` are ingested instead."""
    kinds: dict[str, str]
    """Question id -> kind (``answerable``, ``near_miss``, ``out_of_corpus``)."""
    cited_right: Callable[[Item, dict], bool]
    """Whether one citation (``{"id", "source", "title"}``) of an answer to the item is right."""
    files: list[Path] = field(default_factory=list)
    """Files to ingest with the ingest pipeline (the realistic corpus)."""
    correct: Callable[[Item, dict], bool] | None = None
    """Whether an answer (``arag eval``'s outputs) is right; None: it holds a reference answer."""

    def language(self, item: Item) -> str:
        """``ko`` for a question written in Hangul, else ``en``."""
        return "ko" if spaceless_share(item.question) > 0.3 else "en"


def _passage_of(citation: dict) -> str:
    """The passage id of a cited chunk (chunk ids are ``passage#n``)."""
    return str(citation.get("id", "")).rsplit("#", 1)[0]


def xquad_set(limit: int | None = None) -> QuestionSet:
    """XQuAD-en: the first ``limit`` questions over all 240 paragraphs."""
    dataset = load_dataset(SHARED_DATA / XQUAD_EN).limited(limit)
    text = {p.id: normalize_answer(p.text) for p in dataset.passages}

    def cited_right(item: Item, citation: dict) -> bool:
        passage = f" {text.get(_passage_of(citation), '')} "
        return any(f" {normalize_answer(a)} " in passage for a in item.answers if a.strip())

    return QuestionSet("xquad", dataset, {i.id: "answerable" for i in dataset.items}, cited_right)


def hotpot_set(limit: int | None = None) -> QuestionSet:
    """HotpotQA: the first ``limit`` questions over their pooled context paragraphs."""
    dataset = load_dataset(SHARED_DATA / HOTPOT).limited(limit)

    def cited_right(item: Item, citation: dict) -> bool:
        return _passage_of(citation) in item.gold

    return QuestionSet(
        "hotpotqa", dataset, {i.id: "answerable" for i in dataset.items}, cited_right
    )


def realistic_set(limit: int | None = None, questions: Path = REALISTIC_QUESTIONS) -> QuestionSet:
    """The realistic corpus; ``limit`` keeps the first ``limit`` questions of each kind."""
    items, kinds, taken = [], {}, dict.fromkeys(KINDS, 0)
    for n, line in enumerate(questions.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        kind = rec.get("kind")
        if kind not in KINDS:
            raise ValueError(f"{questions}:{n}: kind must be one of {', '.join(KINDS)}")
        if rec.get("kind") == "answerable" and not (rec.get("answers") and rec.get("source")):
            raise ValueError(f"{questions}:{n}: an answerable question needs answers and source")
        if limit is not None and taken[kind] >= limit:
            continue
        taken[kind] += 1
        item = Item(
            rec["id"],
            rec["question"],
            rec.get("answers") or [],
            [rec.get("source")] if rec.get("source") else [],
        )
        items.append(item)
        kinds[item.id] = kind
    files = sorted(
        p for p in REALISTIC_CORPUS.iterdir() if p.is_file() and p.name != "ATTRIBUTION.md"
    )

    def cited_right(item: Item, citation: dict) -> bool:
        return Path(str(citation.get("source", ""))).name in item.gold

    dataset = Dataset("realistic", "jsonl", items, [])
    return QuestionSet("realistic", dataset, kinds, cited_right, files)


def held_out_set(name: str, limit: int | None = None) -> QuestionSet:
    """The held-out half of a near-miss split (:mod:`arag.evaluation.splits`) as a set."""
    split = load_split("xquad-split" if name == "xquad-nearmiss" else name)
    items = split.part("held")[:limit] if limit else split.part("held")
    dataset = Dataset(name, "split", items, split.passages)
    kinds = {i.id: split.kinds[i.id] for i in items}

    def cites_gold(item: Item, citation: dict) -> bool:
        return _passage_of(citation) in item.gold

    def gold_cited(item: Item, outputs: dict) -> bool:
        return any(cites_gold(item, c) for c in outputs.get("cited") or [])

    correct = gold_cited if split.by_citation else None
    return QuestionSet(name, dataset, kinds, cites_gold, correct=correct)


def load_sets(names: list[str], limit: int | None = None) -> list[QuestionSet]:
    """The named sets, in the order given; an unknown name is a ``ValueError`` naming the known."""
    makers = {
        "realistic": realistic_set,
        "xquad": xquad_set,
        "hotpotqa": hotpot_set,
        "xquad-nearmiss": lambda limit: held_out_set("xquad-nearmiss", limit),
        "belebele-ko": lambda limit: held_out_set("belebele-ko", limit),
    }
    unknown = [n for n in names if n not in makers]
    if unknown:
        raise ValueError(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    return [makers[n](limit) for n in names]


def with_items(qset: QuestionSet, items: list[Item]) -> QuestionSet:
    """``qset`` with only ``items`` (tests use it to run a slice)."""
    return dataclasses.replace(qset, dataset=dataclasses.replace(qset.dataset, items=items))
