"""Chunk indexes: the backend-independent interface and a dispatcher that opens one."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from tools.index.base import (
    EmbeddingMismatchError,
    HybridIndex,
    IndexCorruptedError,
    IndexError_,
    IndexMeta,
    IndexNotFoundError,
)

if TYPE_CHECKING:
    from tools.index.weaviate import WeaviateSettings

__all__ = [
    "EmbeddingMismatchError",
    "HybridIndex",
    "IndexCorruptedError",
    "IndexError_",
    "IndexMeta",
    "IndexNotFoundError",
    "open_index",
]


def open_index(
    data_dir: str | os.PathLike,
    embeddings: Embeddings,
    *,
    backend: str = "lancedb",
    create: bool = False,
    weaviate: WeaviateSettings | None = None,
) -> HybridIndex:
    """Open the index stored in ``data_dir`` with the given backend.

    Backends are imported only when chosen, so an unused backend's dependencies are never
    loaded. ``backend="weaviate"`` ignores ``data_dir`` and connects with ``weaviate``
    (default: ``WeaviateSettings.from_env()``). Raises the ``IndexError_`` subclasses
    documented on each backend's ``open``.
    """
    match backend:
        case "lancedb":
            from tools.index.lance import LanceIndex

            return LanceIndex.open(data_dir, embeddings, create=create)
        case "weaviate":
            from tools.index.weaviate import WeaviateIndex

            return WeaviateIndex.open(embeddings, weaviate, create=create)
        case _:
            raise ValueError(
                f"Unknown index backend {backend!r}; supported: 'lancedb', 'weaviate'."
            )
