"""Question sets with their corpus: the one loader for ``arag eval`` and the benchmarks.

Formats: SQuAD v1.1 / XQuAD JSON, HotpotQA JSON or JSONL, Belebele JSONL (raw, or the shared
English/Korean aligned file) and, for ``arag eval`` only, plain question/answers JSONL.

Every loader returns :class:`Dataset` values: the questions (:class:`Item`: reference answers and
gold passage ids) and the passages that make up the corpus (empty for plain JSONL, which is
asked against an existing index). Passage ids become the ``source`` of the indexed chunks, so
retrieval is scored by comparing retrieved sources with the gold ids
(:mod:`arag.evaluation.metrics`). Two entry points:

* :func:`load_dataset` (``arag eval``): one dataset, with reference answers (and, for Belebele,
  Korean questions with the English one as ``reference_question``); the format is given or
  detected from the file (``.json`` is SQuAD, JSONL by its first record); errors are
  :class:`DatasetError` naming the file and line.
* :func:`load_datasets` and :func:`select` (the retrieval benchmarks): the format is sniffed
  from the content whatever the file is called (:func:`sniff_format`); Belebele gives one
  dataset per question language; every HotpotQA gold title must be in the pooled context;
  items carry questions and gold only (no answers); errors are :class:`DatasetFormatError`.
  ``Dataset.questions`` is their view of the items: (text, gold ids) pairs.

Where the two entry points' conventions differ, each keeps its own, so that neither the
``arag eval`` results nor the benchmark figures change:

* the dataset name: the file stem (``xquad.en``) for ``load_dataset``, the part before the first
  dot (``xquad``) for ``load_datasets``;
* HotpotQA passage text: sentences joined with a space for ``load_dataset``, as they are
  (HotpotQA sentences carry their own leading spaces) for ``load_datasets``;
* Belebele passages: titled from the link and keyed by link for ``load_dataset``; untitled, and
  a link whose passage text differs gets its own id, for ``load_datasets``;
* SQuAD: ``load_datasets`` strips titles and names an untitled article by its index (``3#0``);
  ``load_dataset`` keeps the title as is (``article#0`` when there is none).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.documents import Document

# The shared QA sets sit beside the repository (../shared/data); ARAG_SHARED_DATA overrides.
SHARED_DATA = Path(
    os.environ.get("ARAG_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data"
)
XQUAD_EN = "xquad/xquad.en.json"
BELEBELE = "belebele/belebele_en_ko_aligned.jsonl"
HOTPOT = "hotpotqa/hotpotqa_dev_distractor_151.jsonl"

FORMATS = ("squad", "hotpotqa", "belebele", "retrievalqa", "jsonl")
"""What :func:`load_dataset` reads."""
SNIFFED_FORMATS = ("squad", "belebele", "hotpotqa")
"""What :func:`sniff_format` recognises (and :func:`load_datasets` reads)."""


class DatasetError(ValueError):
    """The dataset file cannot be read; the message names the file and what is wrong."""


class DatasetFormatError(DatasetError):
    """The file is none of the sniffed formats, or is malformed; the message says which."""


@dataclass(frozen=True)
class Passage:
    """One corpus passage; ``id`` is stored as the chunk ``source``."""

    id: str
    title: str
    text: str

    @property
    def pid(self) -> str:
        """The passage id (the benchmarks' name for it)."""
        return self.id


Paragraph = Passage
"""The benchmarks' name for a passage: one corpus paragraph."""


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
    kind: str = ""
    """The question type where the dataset gives one (HotpotQA: ``bridge``, ``comparison``)."""


@dataclass(frozen=True)
class Question:
    """A question and the ids of the paragraphs that answer it (all needed for multi-hop)."""

    text: str
    gold: tuple[str, ...]


@dataclass
class Dataset:
    """Questions and the corpus they are asked against."""

    name: str
    format: str
    items: list[Item]
    passages: list[Passage]
    multi_hop: bool = False
    """Questions need several passages (HotpotQA): the benchmarks report all-gold@5 as well."""
    note: str = ""
    """A caveat shown next to the figures (e.g. questions untranslated, corpus in English)."""
    source: str = ""
    """The file the dataset was read from."""

    @property
    def fmt(self) -> str:
        """The format name (``squad``, ``hotpotqa``, ``belebele``, ``jsonl``)."""
        return self.format

    @property
    def paragraphs(self) -> list[Passage]:
        """The corpus passages (the benchmarks' name for them)."""
        return self.passages

    @property
    def questions(self) -> list[Question]:
        """Every item as (question text, gold passage ids), what retrieval is scored on."""
        return [Question(item.question, tuple(item.gold)) for item in self.items]

    def limited(self, limit: int | None) -> Dataset:
        """The first ``limit`` questions (all when None), with the whole corpus kept."""
        items = self.items if not limit else self.items[:limit]
        return dataclasses.replace(self, items=items)


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _hotpot_context(passages: dict[str, Passage], context: Any, sep: str) -> None:
    """Add a HotpotQA record's context paragraphs to ``passages`` (first title wins)."""
    for title, sentences in context:
        if title not in passages:
            passages[title] = Passage(title, title, sep.join(sentences).strip())


def _gold_titles(supporting_facts: Any) -> list[str]:
    """The titles of a HotpotQA record's supporting facts, each once, in order."""
    return list(dict.fromkeys(t for t, _ in supporting_facts))


# ---------------------------------------------------------------------------- arag eval


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
    items, passages = [], {}
    for n, rec in _jsonl(path):
        _require(rec, ("question", "answer", "context"), f"{path}:{n}")
        _hotpot_context(passages, rec["context"], " ")
        gold = _gold_titles(rec.get("supporting_facts", []))
        items.append(
            Item(
                str(rec.get("_id", n)),
                rec["question"],
                [rec["answer"]],
                gold,
                kind=str(rec.get("type", "")),
            )
        )
    return Dataset(path.stem, "hotpotqa", items, list(passages.values()), multi_hop=True)


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


def load_retrievalqa(path: Path) -> Dataset:
    """RetrievalQA JSONL (``question``, ``ground_truth``, ``context: [{title, text}]``).

    A retrieve-or-not benchmark: its questions need facts a model is unlikely to know (recent
    news, long-tail entities). Every record's context passages join the corpus, as
    ``<question_id>#<n>``, and are that question's gold.
    """
    items, passages = [], []
    for n, rec in _jsonl(path):
        _require(rec, ("question", "ground_truth"), f"{path}:{n}")
        qid = str(rec.get("question_id", n))
        gold = []
        for i, ctx in enumerate(rec.get("context") or []):
            pid = f"{qid}#{i}"
            if isinstance(ctx, str):  # toolqa's contexts are bare strings
                ctx = {"title": "", "text": ctx}
            passages.append(Passage(pid, str(ctx.get("title", "")), str(ctx.get("text", ""))))
            gold.append(pid)
        answers = rec["ground_truth"]
        answers = [answers] if isinstance(answers, str) else [str(a) for a in answers]
        items.append(Item(qid, rec["question"], answers, gold, kind=rec.get("data_source", "")))
    return Dataset(path.stem, "retrievalqa", items, passages)


def detect_format(path: Path) -> str:
    """Guess the format from the file: SQuAD is one JSON document; JSONL by its first record."""
    if path.suffix == ".json":
        return "squad"
    for _, rec in _jsonl(path):
        if "en_passage" in rec and "ko_question" in rec:
            return "belebele"
        if "supporting_facts" in rec and "context" in rec:
            return "hotpotqa"
        if "ground_truth" in rec and "question" in rec:
            return "retrievalqa"
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
            dataset = load_squad(path)
        case "hotpotqa":
            dataset = load_hotpotqa(path)
        case "belebele":
            dataset = load_belebele(path)
        case "retrievalqa":
            dataset = load_retrievalqa(path)
        case "jsonl":
            dataset = load_plain_jsonl(path)
        case _:
            raise DatasetError(f"unknown dataset format {fmt!r}; supported: {', '.join(FORMATS)}")
    dataset.source = str(path)
    return dataset


# ---------------------------------------------------------------------------- benchmarks


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


def _sniffed_squad(value: dict, name: str) -> list[Dataset]:
    passages, items = [], []
    try:
        for a, article in enumerate(value["data"]):
            title = str(article.get("title", "")).replace("_", " ").strip()
            for i, para in enumerate(article["paragraphs"]):
                pid = f"{article.get('title') or a}#{i}"
                passages.append(Passage(pid, title, para["context"]))
                for qa in para.get("qas", []):
                    question = qa["question"]
                    items.append(Item(str(qa.get("id", len(items))), question, [], [pid]))
    except (KeyError, TypeError) as exc:
        raise DatasetFormatError(f"Malformed SQuAD record in {name}: missing {exc}.") from exc
    return [Dataset(name, "squad", items, passages)]


def _sniffed_belebele(
    rows: list[dict], name: str, passage_language: str | None = None
) -> list[Dataset]:
    """One dataset per question language: ``question`` (raw Belebele) or ``<lang>_question``.

    The passages are ``<passage_language>_passage`` when given (the aligned file's
    ``ko_passage``: a Korean corpus); by default ``en_passage``, else ``flores_passage``.
    """
    if passage_language:
        passage_key = f"{passage_language}_passage"
    else:
        passage_key = "en_passage" if "en_passage" in rows[0] else "flores_passage"
    q_keys = [k for k in rows[0] if k == "question" or k.endswith("_question")]
    by_passage: dict[str, Passage] = {}
    pids = []
    try:
        for row in rows:
            text = row[passage_key]
            pid = str(row.get("link") or _short_hash(text))
            if pid in by_passage and by_passage[pid].text != text:
                pid = f"{pid}#{_short_hash(text)}"  # same link, different passage
            by_passage.setdefault(pid, Passage(pid, "", text))
            pids.append(pid)
    except KeyError as exc:
        raise DatasetFormatError(f"Malformed Belebele record in {name}: missing {exc}.") from exc
    out = []
    for key in q_keys:
        lang = key.split("_")[0] if key != "question" else ""
        items = [
            Item(str(row.get("id", n)), row[key], [], [pid])
            for n, (row, pid) in enumerate(zip(rows, pids, strict=True), 1)
            if row.get(key)
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
                items,
                list(by_passage.values()),
                note=note,
            )
        )
    return out


def _sniffed_hotpot(rows: list[dict], name: str) -> list[Dataset]:
    """Corpus = every record's context paragraphs pooled, deduplicated by title."""
    by_title: dict[str, Passage] = {}
    items = []
    try:
        for n, row in enumerate(rows, 1):
            _hotpot_context(by_title, row["context"], "")
            gold = _gold_titles(row["supporting_facts"])
            kind = str(row.get("type", ""))
            items.append(Item(str(row.get("_id", n)), row["question"], [], gold, kind=kind))
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetFormatError(f"Malformed HotpotQA record in {name}: {exc!r}.") from exc
    missing = sum(1 for item in items for g in item.gold if g not in by_title)
    if missing:
        raise DatasetFormatError(
            f"{name}: {missing} supporting-fact titles are not in any record's context; "
            "use the distractor setting, where gold paragraphs are part of the context."
        )
    return [Dataset(name, "hotpotqa", items, list(by_title.values()), multi_hop=True)]


def load_datasets(
    path: str | os.PathLike, name: str | None = None, *, passage_language: str | None = None
) -> list[Dataset]:
    """Load every dataset in ``path`` (Belebele gives one per question language).

    ``passage_language`` picks Belebele's ``<lang>_passage`` column as the corpus (default:
    the English or FLORES passage). Raises ``FileNotFoundError`` for a missing file and
    :class:`DatasetFormatError` for an unknown or malformed format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Dataset file not found: {path}")
    value, _ = _records(path)
    fmt = sniff_format(value)
    name = name or path.name.split(".")[0]
    match fmt:
        case "squad":
            datasets = _sniffed_squad(value, name)  # type: ignore[arg-type]
        case "belebele":
            datasets = _sniffed_belebele(value, name, passage_language)  # type: ignore[arg-type]
        case _:
            datasets = _sniffed_hotpot(value, name)  # type: ignore[arg-type]
    for ds in datasets:
        ds.source = str(path)
        if not ds.items or not ds.passages:
            raise DatasetFormatError(f"{path}: no questions or no paragraphs in {ds.name}.")
    return datasets


def select(
    path: str | os.PathLike, language: str = "", *, passage_language: str | None = None
) -> Dataset:
    """The dataset in ``path`` whose questions are in ``language`` (the first one when "")."""
    datasets = load_datasets(path, passage_language=passage_language)
    if not language:
        return datasets[0]
    for ds in datasets:
        if ds.name.endswith(f"-{language}"):
            return ds
    raise DatasetFormatError(
        f"{path} has no {language!r} questions (it holds {[d.name for d in datasets]})."
    )


# ---------------------------------------------------------------------------- documents


def titled_text(title: str, body: str) -> str:
    """The title line, a blank line, then the body: what the chunker makes of a short passage."""
    return f"{title}\n\n{body}" if title else body


def paragraph_documents(passages: list[Passage]) -> list[Document]:
    """One whole-passage document per passage (no chunker), text from :func:`titled_text`.

    Metadata: ``source`` and ``chunk_id`` = the passage id, ``title``.
    """
    from langchain_core.documents import Document

    return [
        Document(
            titled_text(p.title, p.text),
            metadata={"source": p.id, "chunk_id": p.id, "title": p.title},
        )
        for p in passages
    ]


def corpus_chunks(passages: list[Passage]) -> list[Document]:
    """The project chunker over whole passages: the chunks the benchmarks' stacks index.

    Metadata: ``source`` = passage id (what metrics compare), ``title``, ``chunk_id``.
    """
    from langchain_core.documents import Document

    from tools.ingest.chunking import chunk_documents

    docs = [Document(p.text, metadata={"source": p.id, "title": p.title}) for p in passages]
    return chunk_documents(docs)
