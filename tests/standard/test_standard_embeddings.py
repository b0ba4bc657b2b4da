"""LangChain's standard embeddings suites against our offline WordLlama embeddings."""

from __future__ import annotations

from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from tools.embeddings import WordLlamaEmbeddings


class TestWordLlamaEmbeddingsUnit(EmbeddingsUnitTests):
    """Construction (no arguments, nothing loaded until first use)."""

    @property
    def embeddings_class(self) -> type[WordLlamaEmbeddings]:
        return WordLlamaEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {}


class TestWordLlamaEmbeddingsIntegration(EmbeddingsIntegrationTests):
    """Sync and async embedding of queries and documents (weights ship in the wheel)."""

    @property
    def embeddings_class(self) -> type[WordLlamaEmbeddings]:
        return WordLlamaEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {}
