"""Our embedded hybrid index, driven through its public API (``LanceIndex``).

Documents go in with ``add_documents`` (ids = chunk ids) and the BM25 index is built with
``refresh_fts``, as ``tools.ingest.pipeline`` does; queries use ``hybrid_search``. The corpus
language is detected from a sample of the texts, as ingestion does, and recorded in the index.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from arag.evaluation.metrics import dedupe

K = 10  # hybrid_search depth: MRR@10 needs ten results
EXPAND_K = 5
ADD_BATCH = 10_000
# "module:function" taking (index, query, k) and returning ranked Documents; overrides the
# built-in pseudo-relevance-feedback expansion used for the multi-hop row.
EXPANSION_ENV = "ARAG_BENCH_EXPANSION"


class OurStack:
    """``LanceIndex`` in a temporary directory; add documents, ``finish``, then ``search``."""

    name = "ours"

    def __init__(self, embeddings: Embeddings, language: str | None = None):
        from tools.index.lance import LanceIndex

        self._tmp = tempfile.TemporaryDirectory(prefix="arag-bench-")
        self.embeddings = embeddings
        self.language = language
        self._open = lambda lang: LanceIndex.open(
            self._tmp.name, embeddings, create=True, language=lang
        )
        self.index = None

    def add(self, docs: list[Document], vectors: np.ndarray | None = None) -> None:
        """Embed (or take ``vectors``) and upsert ``docs``."""
        if self.index is None:
            self.index = self._open(self.language or _detect_language(docs))
        for start in range(0, len(docs), ADD_BATCH):
            batch = docs[start : start + ADD_BATCH]
            if vectors is not None:
                self.embeddings.queue(vectors[start : start + ADD_BATCH])  # type: ignore[attr-defined]
            self.index.add_documents(batch, ids=[d.metadata["chunk_id"] for d in batch])

    def finish(self) -> None:
        """Build the full-text index, as ingestion does at the end of a run; wait for the copy.

        The in-memory copy searches use once it is ready (:meth:`LanceIndex.warm`) takes
        ``warm_s`` seconds; ``in_memory`` is False for a table too big to hold.
        """
        self.index.refresh_fts()
        start = time.perf_counter()
        self.in_memory = self.index.warm()
        self.warm_s = time.perf_counter() - start

    def search(self, query: str) -> list[str]:
        """Ranked paragraph ids from ``hybrid_search(query, k=10)``."""
        return dedupe(d.metadata["source"] for d in self.index.hybrid_search(query, k=K))

    def search_expanded(self, query: str) -> list[str]:
        """Multi-hop retrieval, top 5 paragraph ids (see :func:`expansion`)."""
        name, func = expansion()
        self.expansion_name = name
        return dedupe(d.metadata["source"] for d in func(self.index, query, EXPAND_K))

    def close(self) -> None:
        """Delete the temporary index."""
        self._tmp.cleanup()


def expansion() -> tuple[str, Callable]:
    """The multi-hop search used for the all-gold@5 "with expansion" figure, and its name.

    ``$ARAG_BENCH_EXPANSION`` ("module:function") if set; else the index's
    ``tools.index.multihop.expand_search`` (entity expansion from the first hits); else, if
    that module is absent, the offline rewrite path: a second query from
    ``tools.text.extractive.feedback_query`` (pseudo-relevance feedback), fused with the first
    results by reciprocal rank. Every candidate takes ``(index, query, k)`` and returns
    ranked Documents.
    """
    hook = os.environ.get(EXPANSION_ENV)
    if hook:
        module, _, func = hook.partition(":")
        return hook, getattr(importlib.import_module(module), func)
    try:
        from tools.index.multihop import expand_search
    except ImportError:
        return "tools.text.extractive.feedback_query (PRF) + reciprocal-rank fusion", _prf_search
    return "tools.index.multihop.expand_search", expand_search


def _prf_search(index, query: str, k: int) -> list[Document]:
    from tools.index.fusion import fuse_rankings
    from tools.index.search import search
    from tools.text.extractive import feedback_query

    first = search(index, query, k)
    second = search(index, feedback_query(query, first), k)
    return [
        Document(d["content"], metadata={"source": d["source"]})
        for d in fuse_rankings([first, second], k)
    ]


def _detect_language(docs: list[Document]) -> str:
    from tools.text.language import detect_language

    step = max(1, len(docs) // 40)
    sample = " ".join(d.page_content[:500] for d in docs[::step][:40])
    return detect_language(sample[:6000]) if sample.strip() else "en"
