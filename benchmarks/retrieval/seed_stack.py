"""The seed notebook's retrieval stack, rebuilt with its own libraries.

``langchain_chroma.Chroma`` (in-memory, telemetry off, our WordLlama embeddings object; never
Chroma's default embedding function, which would download a model) as the dense retriever,
``langchain_community`` ``BM25Retriever`` (rank_bm25, whitespace tokens) as the lexical one, and
``langchain_classic`` ``EnsembleRetriever`` with weights BM25 0.3 / dense 0.7, k=5 each.
"""

from __future__ import annotations

import os
import uuid

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from arag.evaluation.metrics import dedupe

K = 5
WEIGHTS = (0.3, 0.7)  # (BM25, dense), as in the seed notebook and the shared data README
CHROMA_BATCH = 5000  # below Chroma's maximum upsert batch (5461 with the default SQLite build)


class SeedStack:
    """Chroma + BM25Retriever + EnsembleRetriever; add documents, ``finish``, then ``search``."""

    name = "seed"

    def __init__(self, embeddings: Embeddings):
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb
        from chromadb.config import Settings
        from langchain_chroma import Chroma

        client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
        self.embeddings = embeddings
        self.chroma = Chroma(
            collection_name=f"seed-{uuid.uuid4().hex[:8]}",
            embedding_function=embeddings,
            client=client,
        )
        self.docs: list[Document] = []
        self.ensemble = None

    def add(self, docs: list[Document], vectors: np.ndarray | None = None) -> None:
        """Embed (or take ``vectors``) and store ``docs`` in Chroma; keep them for BM25."""
        for start in range(0, len(docs), CHROMA_BATCH):
            batch = docs[start : start + CHROMA_BATCH]
            if vectors is not None:
                self.embeddings.queue(vectors[start : start + CHROMA_BATCH])  # type: ignore[attr-defined]
            self.chroma.add_documents(batch, ids=[d.metadata["chunk_id"] for d in batch])
        self.docs.extend(docs)

    def finish(self) -> None:
        """Build the BM25 retriever over every document and the ensemble."""
        from langchain_classic.retrievers import EnsembleRetriever
        from langchain_community.retrievers import BM25Retriever

        bm25 = BM25Retriever.from_documents(self.docs, k=K)
        dense = self.chroma.as_retriever(search_kwargs={"k": K})
        self.ensemble = EnsembleRetriever(retrievers=[bm25, dense], weights=list(WEIGHTS))

    def search(self, query: str) -> list[str]:
        """Ranked paragraph ids (up to 10: the union of both retrievers' top 5)."""
        return dedupe(d.metadata["source"] for d in self.ensemble.invoke(query))
