"""Dataset loaders: SQuAD JSON, Belebele JSONL and HotpotQA JSONL, format sniffed from content.

Every loader returns :class:`Dataset` values: the paragraphs that form the corpus and the
questions with the ids of their gold paragraphs. Both stacks index exactly the same chunk
texts, made by :func:`corpus_chunks` (the project chunker, which starts each chunk with its
paragraph's title line), and are scored on paragraph ids, so a paragraph split into two chunks
still counts once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document

# The shared QA sets sit beside the repository (../shared/data); ARAG_SHARED_DATA overrides.
SHARED_DATA = Path(
    os.environ.get("ARAG_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data"
)
XQUAD_EN = "xquad/xquad.en.json"
BELEBELE = "belebele/belebele_en_ko_aligned.jsonl"
HOTPOT = "hotpotqa/hotpotqa_dev_distractor_151.jsonl"

FORMATS = ("squad", "belebele", "hotpotqa")


class DatasetFormatError(ValueError):
    """The file is none of the accepted formats, or is malformed; the message says which."""


@dataclass(frozen=True)
class Paragraph:
    """One corpus paragraph: a stable id, its title (may be empty) and its text."""

    pid: str
    title: str
    text: str


@dataclass(frozen=True)
class Question:
    """A question and the ids of the paragraphs that answer it (all needed for multi-hop)."""

    text: str
    gold: tuple[str, ...]


@dataclass
class Dataset:
    """A corpus and its questions; ``multi_hop`` sets report all-gold@5 as well."""

    name: str
    fmt: str
    paragraphs: list[Paragraph]
    questions: list[Question]
    multi_hop: bool = False
    note: str = ""
    source: str = field(default="")


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


# ---------------------------------------------------------------------------- sniffing


def _records(path: Path) -> tuple[object, str]:
    """Parse ``path`` as one JSON value or, failing that, as JSON lines; return (value, kind)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(f"{path} is not UTF-8 text ({exc}).") from exc
    if not text.strip():
        raise DatasetFormatError(f"{path} is empty.")
    try:
        value = json.loads(text)
    except ValueError:
        pass
    else:
        # A one-line JSONL file parses as a single record.
        return ([value] if isinstance(value, dict) and "data" not in value else value), "json"
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as exc:
            raise DatasetFormatError(
                f"{path} is neither one JSON document nor JSON lines (line {lineno}: {exc})."
            ) from exc
    return rows, "jsonl"


def sniff_format(value: object) -> str:
    """Name the format of parsed content: ``squad``, ``belebele`` or ``hotpotqa``.

    Decided by the fields present, not the file name; raises :class:`DatasetFormatError`
    naming the accepted formats and the fields seen otherwise.
    """
    if isinstance(value, dict):
        data = value.get("data")
        first = data[0] if isinstance(data, list) and data else None
        if isinstance(first, dict) and "paragraphs" in first:
            return "squad"
        seen = sorted(value)[:12]
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        first = value[0]
        if {"question", "context", "supporting_facts"} <= first.keys():
            return "hotpotqa"
        if ("en_passage" in first or "flores_passage" in first) and any(
            k == "question" or k.endswith("_question") for k in first
        ):
            return "belebele"
        seen = sorted(first)[:12]
    else:
        seen = [type(value).__name__]
    raise DatasetFormatError(
        "Unknown dataset format. Accepted: SQuAD JSON ({'data': [{'title', 'paragraphs': "
        "[{'context', 'qas'}]}]}), HotpotQA JSON/JSONL (question, context, supporting_facts), "
        f"Belebele JSONL (flores_passage or en_passage, question). Fields seen: {seen}."
    )


# ---------------------------------------------------------------------------- loaders


def _load_squad(value: dict, name: str) -> list[Dataset]:
    paragraphs, questions = [], []
    try:
        for a, article in enumerate(value["data"]):
            title = str(article.get("title", "")).replace("_", " ").strip()
            for i, para in enumerate(article["paragraphs"]):
                pid = f"{article.get('title') or a}#{i}"
                paragraphs.append(Paragraph(pid, title, para["context"]))
                questions.extend(Question(qa["question"], (pid,)) for qa in para.get("qas", []))
    except (KeyError, TypeError) as exc:
        raise DatasetFormatError(f"Malformed SQuAD record in {name}: missing {exc}.") from exc
    return [Dataset(name, "squad", paragraphs, questions)]


def _load_belebele(rows: list[dict], name: str) -> list[Dataset]:
    """One dataset per question language: ``question`` (raw Belebele) or ``<lang>_question``."""
    passage_key = "en_passage" if "en_passage" in rows[0] else "flores_passage"
    q_keys = [k for k in rows[0] if k == "question" or k.endswith("_question")]
    by_passage: dict[str, Paragraph] = {}
    pids = []
    try:
        for row in rows:
            text = row[passage_key]
            pid = str(row.get("link") or _short_hash(text))
            if pid in by_passage and by_passage[pid].text != text:
                pid = f"{pid}#{_short_hash(text)}"  # same link, different passage
            by_passage.setdefault(pid, Paragraph(pid, "", text))
            pids.append(pid)
    except KeyError as exc:
        raise DatasetFormatError(f"Malformed Belebele record in {name}: missing {exc}.") from exc
    out = []
    for key in q_keys:
        lang = key.split("_")[0] if key != "question" else ""
        questions = [
            Question(row[key], (pid,)) for row, pid in zip(rows, pids, strict=True) if row.get(key)
        ]
        note = (
            "questions untranslated, corpus in English"
            if lang and passage_key.startswith("en") and lang != "en"
            else ""
        )
        out.append(
            Dataset(
                f"{name}-{lang}" if lang else name,
                "belebele",
                list(by_passage.values()),
                questions,
                note=note,
            )
        )
    return out


def _load_hotpot(rows: list[dict], name: str) -> list[Dataset]:
    """Corpus = every record's context paragraphs pooled, deduplicated by title."""
    by_title: dict[str, Paragraph] = {}
    questions = []
    try:
        for row in rows:
            for title, sentences in row["context"]:
                if title not in by_title:
                    by_title[title] = Paragraph(title, title, "".join(sentences).strip())
            gold = tuple(dict.fromkeys(t for t, _ in row["supporting_facts"]))
            questions.append(Question(row["question"], gold))
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetFormatError(f"Malformed HotpotQA record in {name}: {exc!r}.") from exc
    missing = sum(1 for q in questions for g in q.gold if g not in by_title)
    if missing:
        raise DatasetFormatError(
            f"{name}: {missing} supporting-fact titles are not in any record's context; "
            "use the distractor setting, where gold paragraphs are part of the context."
        )
    return [Dataset(name, "hotpotqa", list(by_title.values()), questions, multi_hop=True)]


def load_datasets(path: str | os.PathLike, name: str | None = None) -> list[Dataset]:
    """Load every dataset in ``path`` (Belebele gives one per question language).

    Raises ``FileNotFoundError`` for a missing file and :class:`DatasetFormatError` for an
    unknown or malformed format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Dataset file not found: {path}")
    value, _ = _records(path)
    fmt = sniff_format(value)
    name = name or path.name.split(".")[0]
    match fmt:
        case "squad":
            datasets = _load_squad(value, name)  # type: ignore[arg-type]
        case "belebele":
            datasets = _load_belebele(value, name)  # type: ignore[arg-type]
        case _:
            datasets = _load_hotpot(value, name)  # type: ignore[arg-type]
    for ds in datasets:
        ds.source = str(path)
        if not ds.questions or not ds.paragraphs:
            raise DatasetFormatError(f"{path}: no questions or no paragraphs in {ds.name}.")
    return datasets


def standard_suite(data_dir: Path = SHARED_DATA) -> list[tuple[str, Path, str]]:
    """The shared sets run by default: ``(row name, file, question language or "")``."""
    return [
        ("XQuAD-en", data_dir / XQUAD_EN, ""),
        ("Belebele-en", data_dir / BELEBELE, "en"),
        ("Belebele-ko (untranslated)", data_dir / BELEBELE, "ko"),
        ("HotpotQA", data_dir / HOTPOT, ""),
    ]


def select(path: str | os.PathLike, language: str = "") -> Dataset:
    """The dataset in ``path`` whose questions are in ``language`` (the first one when "")."""
    datasets = load_datasets(path)
    if not language:
        return datasets[0]
    for ds in datasets:
        if ds.name.endswith(f"-{language}"):
            return ds
    raise DatasetFormatError(
        f"{path} has no {language!r} questions (it holds {[d.name for d in datasets]})."
    )


def corpus_chunks(paragraphs: list[Paragraph]) -> list[Document]:
    """The chunk documents both stacks index: the project chunker over whole paragraphs.

    Metadata: ``source`` = paragraph id (what metrics compare), ``title``, ``chunk_id``.
    """
    from tools.chunking import chunk_documents

    docs = [Document(p.text, metadata={"source": p.pid, "title": p.title}) for p in paragraphs]
    return chunk_documents(docs)
