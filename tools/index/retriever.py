"""A LangChain retriever over any hybrid index (embedded LanceDB or Weaviate).

``VectorStore.as_retriever()`` on our indexes gives plain vector search; this retriever gives
what the graph uses: hybrid search with calibrated scores in each document's metadata.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field


class HybridRetriever(BaseRetriever):
    """Hybrid BM25 + vector retrieval, best first, ``k`` documents per query.

    ``min_score`` drops documents whose calibrated score is below it (0 keeps all). ``k`` can
    also be passed per call: ``retriever.invoke(query, k=3)``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any = Field(description="A tools.index HybridIndex")
    k: int = Field(default=5, ge=0, description="Documents returned per query")
    min_score: float = Field(default=0.0, ge=0.0, le=1.0, description="Calibrated score floor")

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        docs = self.index.hybrid_search(query, k=self.k if k is None else k)
        return [d for d in docs if d.metadata.get("score", 0.0) >= self.min_score]
