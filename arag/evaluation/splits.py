"""Near-miss question sets built from public QA data, each split in a fit half and a held-out half.

A near miss is a question on the corpus's topic whose answer the corpus lacks. Each set keeps
part of a dataset's passages as the corpus; the questions on the passages left out are the
near misses, the others stay answerable:

* ``xquad-split``: XQuAD-en with every other paragraph of each article (0, 2, 4, ...) kept,
  so a near miss is asked over the other paragraphs of its own article. A left-out question
  whose reference answer occurs in the kept text is dropped (the corpus may answer it).
  Articles alternate between the fit and the held-out half;
* ``belebele-en`` / ``belebele-ko``: Belebele passages of every other article link kept, with
  the English, or the Korean questions over the Korean passages (CJK measured apart). The
  reference answer is a multiple-choice option, rarely verbatim, so an answer counts as right
  when it cites the gold passage. Questions alternate between the halves.

Thresholds are fitted on the ``fit`` half and reported on the ``held`` half
(:mod:`arag.evaluation.abstention`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from arag.evaluation.datasets import (
    BELEBELE,
    SHARED_DATA,
    XQUAD_EN,
    Item,
    Passage,
    _jsonl,
    load_dataset,
)
from arag.evaluation.metrics import answer_recall, normalize_answer

SPLITS = ("xquad-split", "belebele-en", "belebele-ko")


@dataclass
class SplitSet:
    """A corpus, its questions with their kind and half, and how to judge an answer."""

    name: str
    language: str
    """The language of questions and corpus (``ko`` is reported apart from the rest)."""
    passages: list[Passage]
    items: list[Item]
    kinds: dict[str, str]
    """Question id -> ``answerable`` or ``near_miss``."""
    parts: dict[str, str]
    """Question id -> ``fit`` or ``held``."""
    right: Callable[[Item, str, str], bool]
    """Whether an answer (its text, the source it cites) to an answerable item is right."""
    by_citation: bool = False
    """``right`` reads only the cited source (the reference answers are not verbatim)."""

    def part(self, part: str) -> list[Item]:
        """The items of one half."""
        return [i for i in self.items if self.parts[i.id] == part]


def _answer_found(item: Item, text: str, source: str) -> bool:
    return bool(answer_recall(text, item.answers))


def _cites_gold(item: Item, text: str, source: str) -> bool:
    return source in item.gold


def xquad_split() -> SplitSet:
    """XQuAD-en, every other paragraph kept (see the module docstring)."""
    data = load_dataset(SHARED_DATA / XQUAD_EN)
    kept = [p for p in data.passages if int(p.id.rsplit("#", 1)[1]) % 2 == 0]
    kept_ids = {p.id for p in kept}
    corpus = " " + " ".join(normalize_answer(p.text) for p in kept) + " "
    articles = list(dict.fromkeys(p.id.rsplit("#", 1)[0] for p in data.passages))
    fit_articles = set(articles[0::2])
    items, kinds, parts = [], {}, {}
    for item in data.items:
        if item.gold[0] in kept_ids:
            kind = "answerable"
        elif any(f" {normalize_answer(a)} " in corpus for a in item.answers):
            continue  # the kept paragraphs may answer it: neither kind
        else:
            kind = "near_miss"
        items.append(item)
        kinds[item.id] = kind
        parts[item.id] = "fit" if item.gold[0].rsplit("#", 1)[0] in fit_articles else "held"
    return SplitSet("xquad-split", "en", kept, items, kinds, parts, _answer_found)


def belebele_split(language: str) -> SplitSet:
    """Belebele in ``language`` (``en`` or ``ko``), every other article kept."""
    records = [rec for _, rec in _jsonl(SHARED_DATA / BELEBELE)]
    links = list(dict.fromkeys(rec["link"] for rec in records))
    kept_links = set(links[0::2])
    passages: dict[str, Passage] = {}
    items, kinds, parts = [], {}, {}
    for n, rec in enumerate(records):
        link = rec["link"]
        if link in kept_links and link not in passages:
            # The title is the English article name: a Korean corpus gets none.
            title = (
                link.rstrip("/").rsplit("/", 1)[-1].replace("_", " ") if language == "en" else ""
            )
            passages[link] = Passage(link, title, rec[f"{language}_passage"])
        choices = rec[f"{language}_choices"]
        answer = choices[int(rec["correct_answer_num"]) - 1]
        item = Item(f"{language}-{n}", rec[f"{language}_question"], [answer], [link])
        items.append(item)
        kinds[item.id] = "answerable" if link in kept_links else "near_miss"
        parts[item.id] = "fit" if n % 2 == 0 else "held"
    return SplitSet(
        f"belebele-{language}",
        language,
        list(passages.values()),
        items,
        kinds,
        parts,
        _cites_gold,
        by_citation=True,
    )


def load_split(name: str) -> SplitSet:
    """The named split set; an unknown name is a ``ValueError`` naming the known ones."""
    match name:
        case "xquad-split":
            return xquad_split()
        case "belebele-en":
            return belebele_split("en")
        case "belebele-ko":
            return belebele_split("ko")
    raise ValueError(f"unknown split set {name!r}; choose from {', '.join(SPLITS)}")
