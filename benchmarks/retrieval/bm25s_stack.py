"""A BM25-only peer: ``bm25s`` (sparse-matrix BM25, numba backend where it installs).

Not a hybrid stack: it shows what a fast lexical engine costs per query on the same chunks and
questions, so our hybrid query's latency can be read as a ratio to it. English stopwords, no
stemmer (the one bm25s suggests, PyStemmer, is a C extension we do not otherwise need), the
default BM25 parameters (Lucene variant, k1 = 1.5, b = 0.75), one thread.
"""

from __future__ import annotations

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from arag.evaluation.metrics import dedupe

K = 10


def _backend() -> str:
    try:
        import numba  # noqa: F401
    except ImportError:
        return "numpy"
    return "numba"


class Bm25sStack:
    """``bm25s.BM25`` over the chunks; add documents, ``finish``, then ``search``."""

    name = "bm25s"

    def __init__(self, embeddings: Embeddings | None = None):
        self.texts: list[str] = []
        self.sources: list[str] = []
        self.backend = _backend()
        self.retriever = None

    def add(self, docs: list[Document], vectors: np.ndarray | None = None) -> None:
        """Keep ``docs`` for indexing (vectors are not used: BM25 only)."""
        self.texts.extend(d.page_content for d in docs)
        self.sources.extend(d.metadata["source"] for d in docs)

    def finish(self) -> None:
        """Tokenize and index every document."""
        import bm25s

        tokens = bm25s.tokenize(self.texts, stopwords="en", show_progress=False)
        self.retriever = bm25s.BM25(backend=self.backend)
        self.retriever.index(tokens, show_progress=False)
        self.texts = []  # the index holds what it needs

    def search(self, query: str) -> list[str]:
        """Ranked paragraph ids of the top ``K`` chunks that match at all (score > 0)."""
        import bm25s

        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        k = min(K, len(self.sources))
        if not tokens.vocab or k == 0:
            return []
        ids, scores = self.retriever.retrieve(
            tokens, k=k, backend_selection=self.backend, n_threads=1, show_progress=False
        )
        return dedupe(self.sources[i] for i, s in zip(ids[0], scores[0], strict=True) if s > 0)
