"""Optional reranking of fused search results: a small protocol and its no-op.

A reranker reorders the top fused results of a hybrid search (a cross-encoder, an LLM judge,
business rules...). The calibrated ``score`` of each document is left as it is, so the graph's
thresholds keep their meaning; only the order changes.

Configure one by import path (``ARAG_RERANKER=package.module:attr``; ``attr`` is a reranker
object or a class/factory called without arguments), or set ``index.reranker`` on any backend.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from langchain_core.documents import Document

RERANK_DEPTH = 20
"""How many fused results a reranker may reorder, in every backend."""


@runtime_checkable
class Reranker(Protocol):
    """Reorders search results for a query."""

    def rerank(self, query: str, documents: Sequence[Document], k: int) -> list[Document]:
        """Return at most ``k`` of ``documents``, best first."""
        ...


class NoReranker:
    """Keeps the fused order (the default)."""

    def rerank(self, query: str, documents: Sequence[Document], k: int) -> list[Document]:
        """Return the first ``k`` documents unchanged."""
        return list(documents[:k])


def load_reranker(spec: str | None) -> Reranker | None:
    """The reranker named by ``spec`` (``"module:attr"``), or ``None`` for ``""``/``"none"``.

    Raises ``ValueError`` with the reason when the spec is malformed, cannot be imported or
    does not give an object with a ``rerank`` method.
    """
    spec = (spec or "").strip()
    if spec.lower() in {"", "none"}:
        return None
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"Reranker {spec!r} must be 'package.module:attr' or 'none'.")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"Cannot load reranker {spec!r}: {exc}") from exc
    reranker = target() if isinstance(target, type) or not hasattr(target, "rerank") else target
    if not isinstance(reranker, Reranker):
        raise ValueError(f"Reranker {spec!r} has no rerank(query, documents, k) method.")
    return reranker
