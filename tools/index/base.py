"""The index interface every backend implements (embedded LanceDB now, Weaviate later).

A backend stores chunks (LangChain ``Document`` objects whose metadata carries ``source``,
``chunk_id`` and ``title``) together with their embeddings, and answers hybrid BM25 + vector
queries. It is also a LangChain ``VectorStore`` so that LangChain's indexing API (with a record
manager) can drive ingestion idempotently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

from langchain_core.documents import Document


class IndexError_(RuntimeError):
    """Base class for index errors whose message tells the user what to do."""


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
    ``language`` is the corpus language (ISO 639-1) that the translate step compares with.
    """

    embedding_model: str
    dimensions: int
    language: str = "en"
    backend: str = "lancedb"

    def to_dict(self) -> dict:
        """Plain-dict form for JSON storage."""
        return asdict(self)


@runtime_checkable
class HybridIndex(Protocol):
    """What the graph needs from an index.

    ``hybrid_search`` returns at most ``k`` documents, best first. Each returned document's
    metadata has ``source``, ``chunk_id``, ``title`` and a calibrated ``score`` in [0, 1]
    (comparable across queries, so thresholds mean the same thing for every question),
    plus the component scores ``dense`` (cosine similarity) and ``lexical`` (query-term coverage).
    """

    meta: IndexMeta

    def hybrid_search(self, query: str, k: int = 5) -> list[Document]:
        """Hybrid BM25 + vector search for ``query``; best first, calibrated scores."""
        ...

    def count(self) -> int:
        """Number of chunks stored."""
        ...
