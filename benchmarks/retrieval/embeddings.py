"""Embeddings wrapper that can hand out precomputed document vectors (the scale cache).

Both stacks embed documents through LangChain's ``Embeddings`` interface. For the synthetic
scale corpus the vectors were computed once and cached on disk, so :class:`CachedVectors`
returns those (in the order the documents are added) instead of recomputing them; queries are
always embedded live by WordLlama. It reports WordLlama's model id and dimensions, so our
index records the same metadata as with the plain model.
"""

from __future__ import annotations

import numpy as np
from langchain_core.embeddings import Embeddings


class CachedVectors(Embeddings):
    """WordLlama for queries; queued precomputed vectors (if any) for documents."""

    def __init__(self, base: Embeddings):
        self.base = base
        self.model_id = getattr(base, "model_id", type(base).__name__)
        self.dimensions = getattr(base, "dimensions", None)
        self._queue: np.ndarray | None = None

    def queue(self, vectors: np.ndarray) -> None:
        """Use ``vectors`` for the next documents embedded, in order."""
        self._queue = np.asarray(vectors, dtype=np.float32)

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """Queued vectors for ``texts`` as an array (all must be queued), else the live model."""
        if self._queue is None:
            return np.asarray(self.base.embed_documents(texts), dtype=np.float32)
        if len(self._queue) < len(texts):
            raise RuntimeError("fewer cached vectors queued than documents added")
        out, self._queue = self._queue[: len(texts)], self._queue[len(texts) :]
        if not len(self._queue):
            self._queue = None
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Queued vectors for ``texts`` (all must be queued), else the live model."""
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a query live."""
        return self.base.embed_query(text)
