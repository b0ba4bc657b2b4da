"""Evaluation datasets: SQuAD JSON, HotpotQA JSONL, Belebele JSONL and plain question/answers JSONL.

Every loader returns a :class:`Dataset`: the questions with their reference answers and gold
passage ids, plus the passages that make up the corpus (empty for plain JSONL, which is asked
against an existing index). Passage ids become the ``source`` of the indexed chunks, so
retrieval is scored by comparing retrieved sources with the gold ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ("squad", "hotpotqa", "belebele", "jsonl")


class DatasetError(ValueError):
    """The dataset file cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Passage:
    """One corpus passage; ``id`` is stored as the chunk ``source``."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Item:
    """One question with its references."""

    id: str
    question: str
    answers: list[str]
    gold: list[str] = field(default_factory=list)
    """Ids of the passages that hold the answer (all of them, for multi-hop questions)."""
    reference_question: str = ""
    """The question in the corpus language (Belebele's English question), if different."""


@dataclass
class Dataset:
    """Questions and the corpus they are asked against."""

    name: str
    format: str
    items: list[Item]
    passages: list[Passage]

    def limited(self, limit: int | None) -> Dataset:
        """The first ``limit`` questions (all when None), with the whole corpus kept."""
        items = self.items if not limit else self.items[:limit]
        return Dataset(self.name, self.format, items, self.passages)


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise DatasetError(f"{path}:{n}: expected a JSON object per line")
            yield n, record


def _require(record: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in record]
    if missing:
        raise DatasetError(f"{where}: missing field(s) {', '.join(missing)}")


def load_squad(path: Path) -> Dataset:
    """SQuAD v1.1 JSON (``data → paragraphs → context, qas``); one passage per paragraph."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not SQuAD JSON ({type(exc).__name__}: {exc})") from None
    items, passages = [], []
    for article in data:
        title = str(article.get("title", "")).replace("_", " ")
        for i, para in enumerate(article.get("paragraphs", [])):
            pid = f"{article.get('title', 'article')}#{i}"
            passages.append(Passage(pid, title, para["context"]))
            for qa in para.get("qas", []):
                answers = list(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                items.append(Item(str(qa.get("id", len(items))), qa["question"], answers, [pid]))
    return Dataset(path.stem, "squad", items, passages)


def load_hotpotqa(path: Path) -> Dataset:
    """HotpotQA JSONL; the corpus is every context paragraph, pooled and de-duplicated by title."""
    items, passages, seen = [], [], set()
    for n, rec in _jsonl(path):
        _require(rec, ("question", "answer", "context"), f"{path}:{n}")
        for title, sentences in rec["context"]:
            if title not in seen:
                seen.add(title)
                passages.append(Passage(title, title, " ".join(sentences).strip()))
        gold = list(dict.fromkeys(t for t, _ in rec.get("supporting_facts", [])))
        items.append(Item(str(rec.get("_id", n)), rec["question"], [rec["answer"]], gold))
    return Dataset(path.stem, "hotpotqa", items, passages)


def load_belebele(path: Path) -> Dataset:
    """Belebele aligned JSONL: Korean questions (as given) over English passages.

    ``reference_question`` is the English question, standing for a perfect translation; the
    reference answer is the correct English choice (``correct_answer_num`` counts from 1).
    """
    items, passages, seen = [], [], set()
    for n, rec in _jsonl(path):
        keys = ("link", "en_passage", "en_question", "ko_question", "en_choices")
        _require(rec, (*keys, "correct_answer_num"), f"{path}:{n}")
        pid = rec["link"]
        if pid not in seen:
            seen.add(pid)
            title = pid.rstrip("/").rsplit("/", 1)[-1].replace("_", " ")
            passages.append(Passage(pid, title, rec["en_passage"]))
        answer = rec["en_choices"][int(rec["correct_answer_num"]) - 1]
        items.append(
            Item(
                str(rec.get("id", n)),
                rec["ko_question"],
                [answer],
                [pid],
                reference_question=rec["en_question"],
            )
        )
    return Dataset(path.stem, "belebele", items, passages)


def load_plain_jsonl(path: Path) -> Dataset:
    """``{"question", "answers"}`` per line (``answer`` as a string also accepted).

    Optional ``gold`` (passage sources, for retrieval scores) and ``passages``
    (``[{"id", "title", "text"}]``, added to the corpus).
    """
    items, passages, seen = [], [], set()
    for n, rec in _jsonl(path):
        _require(rec, ("question",), f"{path}:{n}")
        answers = rec.get("answers", rec.get("answer", []))
        answers = [answers] if isinstance(answers, str) else [str(a) for a in answers]
        for p in rec.get("passages") or []:
            if p["id"] not in seen:
                seen.add(p["id"])
                passages.append(Passage(str(p["id"]), str(p.get("title", "")), str(p["text"])))
        gold = rec.get("gold") or []
        items.append(
            Item(
                str(rec.get("id", n)),
                rec["question"],
                answers,
                [gold] if isinstance(gold, str) else gold,
            )
        )
    return Dataset(path.stem, "jsonl", items, passages)


def detect_format(path: Path) -> str:
    """Guess the format from the file: SQuAD is one JSON document; JSONL by its first record."""
    if path.suffix == ".json":
        return "squad"
    for _, rec in _jsonl(path):
        if "en_passage" in rec and "ko_question" in rec:
            return "belebele"
        if "supporting_facts" in rec and "context" in rec:
            return "hotpotqa"
        return "jsonl"
    raise DatasetError(f"{path}: the file is empty")


def load_dataset(path: str | Path, fmt: str | None = None) -> Dataset:
    """Load ``path`` in format ``fmt`` (one of ``FORMATS``; detected when None)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    match fmt:
        case "squad":
            return load_squad(path)
        case "hotpotqa":
            return load_hotpotqa(path)
        case "belebele":
            return load_belebele(path)
        case "jsonl":
            return load_plain_jsonl(path)
    raise DatasetError(f"unknown dataset format {fmt!r}; supported: {', '.join(FORMATS)}")
