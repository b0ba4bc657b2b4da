"""LangChain's standard retriever suite against ``HybridRetriever`` over the sample index."""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from tools.index.lance import LanceIndex
from tools.index.retriever import HybridRetriever


class TestHybridRetriever(RetrieversIntegrationTests):
    """Hybrid retrieval over the ingested sample corpus (k from the constructor or the call)."""

    _index: LanceIndex | None = None

    @pytest.fixture(autouse=True)
    def _sample_index(self, sample_data_dir, embeddings) -> None:
        # Properties cannot take fixtures: hand the session's sample index to the class.
        if type(self)._index is None:
            type(self)._index = LanceIndex.open(sample_data_dir, embeddings)

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"index": type(self)._index}

    @property
    def retriever_query_example(self) -> str:
        return "What is retrieval-augmented generation?"
