"""The index interface every backend implements (embedded LanceDB now, Weaviate later).

A backend stores chunks (LangChain ``Document`` objects whose metadata carries ``source``,
``chunk_id`` and ``title``) together with their embeddings, and answers hybrid BM25 + vector
queries. It is also a LangChain ``VectorStore`` so that LangChain's indexing API (with a record
manager) can drive ingestion idempotently.
"""

from __future__ import annotations

import errno
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from langchain_core.documents import Document

from tools.index.calibration import ScoreCalibration, calibration_for

if TYPE_CHECKING:
    from tools.index.rerank import Reranker


GENERATION_FILE = "index_generation"
"""In a data directory: rewritten by every writer after a run (``tools/ingest/lock.py``), so
readers in other processes notice the change with one ``stat``."""


class IndexError_(RuntimeError):
    """Base class for index errors whose message tells the user what to do."""


class DiskFullError(IndexError_):
    """A write failed because the disk (or the quota) is full; the message says what to do."""


_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_DISK_FULL_TEXT = {  # what the message holds -> the cause shown
    "no space left on device": "No space left on device",
    "os error 28": "No space left on device",  # LanceDB (Rust) I/O errors
    "database or disk is full": "database or disk is full",  # SQLite
    "disk quota exceeded": "Disk quota exceeded",
}


def disk_full_cause(exc: BaseException) -> str | None:
    """``"No space left on device"`` (or the like) when ``exc`` or its causes is a full disk.

    Follows ``__cause__``, ``__context__`` and SQLAlchemy's ``orig``: a full disk reaches the
    caller as an ``OSError``, a LanceDB ``RuntimeError`` or a wrapped ``sqlite3`` error.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return os.strerror(current.errno)
        text = str(current).lower()
        for marker, cause in _DISK_FULL_TEXT.items():
            if marker in text:
                return cause
        todo += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return None


class IndexNotFoundError(IndexError_):
    """The data directory holds no index yet (run ``arag ingest`` first)."""


class EmbeddingMismatchError(IndexError_):
    """The index was built with another embedding model or dimension than the one configured."""


class IndexCorruptedError(IndexError_):
    """The index files exist but cannot be read."""


@dataclass(frozen=True)
class IndexMeta:
    """What an index records about itself, checked on every open.

    ``embedding_model`` and ``dimensions`` must match the configured embeddings;
    ``language`` is the corpus language (ISO 639-1) that the translate step compares with;
    ``calibration`` is the cosine ramp the index was built with
    (:class:`tools.index.calibration.ScoreCalibration` as a dict), written when the index is
    created. An index written before it was recorded reads its model's current entry.
    """

    embedding_model: str
    dimensions: int
    language: str = "en"
    backend: str = "lancedb"
    calibration: dict = field(default_factory=dict)

    @property
    def score_calibration(self) -> ScoreCalibration:
        """The recorded ramp, else the embedding model's entry (or the fallback)."""
        if self.calibration:
            return ScoreCalibration.from_dict(self.calibration)
        return calibration_for(self.embedding_model)

    def to_dict(self) -> dict:
        """Plain-dict form for JSON storage."""
        return asdict(self)


@runtime_checkable
class HybridIndex(Protocol):
    """What the graph and ingestion need from an index: one protocol, every member used.

    ``hybrid_search`` returns at most ``k`` documents, best first. Each returned document's
    metadata has ``source``, ``chunk_id``, ``title`` and a calibrated ``score`` in [0, 1]
    (comparable across queries, so thresholds mean the same thing for every question),
    plus the component scores ``dense`` (cosine similarity) and ``lexical`` (query-term coverage).
    Ingestion also writes through it as a LangChain ``VectorStore`` (``add_documents``,
    ``delete``), which the backends inherit.
    """

    meta: IndexMeta
    """What the index records about itself (embedding model, dimensions, corpus language)."""
    data_dir: Path | None
    """The local directory holding the index files; None for a server backend."""
    reranker: Reranker | None
    """Optional reordering of the top fused results (``ARAG_RERANKER``); None: none."""
    record_namespace: str
    """The record manager namespace of this index's chunks (one per table or tenant)."""

    def hybrid_search(self, query: str, k: int = 5) -> list[Document]:
        """Hybrid BM25 + vector search for ``query``; best first, calibrated scores.

        Both built-in backends also take ``filters=`` (a ``tools.index.filters.DocFilter``);
        callers pass it only when a filter is set, so other implementations need not.
        """
        ...

    def count(self) -> int:
        """Number of chunks stored."""
        ...

    def set_language(self, code: str) -> None:
        """Record the corpus language (ISO 639-1) and pick the full-text tokenizer for it."""
        ...

    def refresh_fts(self) -> None:
        """Bring the full-text and vector indexes up to date after a batch of writes."""
        ...

    def close(self) -> None:
        """Release connections and file handles."""
        ...
