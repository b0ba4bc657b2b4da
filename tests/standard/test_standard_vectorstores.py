"""LangChain's standard vector-store suite against both index backends.

The indexing API (``tools.ingest.pipeline``) relies on exactly these behaviours: upsert by id,
delete by id, ``get_by_ids``. Weaviate runs when ``WEAVIATE_URL`` is set, in a throwaway
collection.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from tests.contract.conftest import WEAVIATE_SKIP
from tools.index.lance import LanceIndex


class TestLanceIndexStandard(VectorStoreIntegrationTests):
    """The embedded LanceDB index, in a fresh data dir per test."""

    @pytest.fixture
    def vectorstore(self, tmp_path) -> Iterator[LanceIndex]:
        yield LanceIndex.open(tmp_path / "index", self.get_embeddings(), create=True)


@pytest.mark.live
class TestWeaviateIndexStandard(VectorStoreIntegrationTests):
    """The Weaviate index, in a fresh collection per test (deleted afterwards)."""

    @pytest.fixture
    def vectorstore(self) -> Iterator:
        if not os.environ.get("WEAVIATE_URL"):
            print(f"skipped: {WEAVIATE_SKIP}")
            pytest.skip(WEAVIATE_SKIP)
        from tools.index.weaviate import WeaviateIndex, WeaviateSettings

        base = WeaviateSettings.from_env()
        settings = WeaviateSettings(
            url=base.url, grpc_url=base.grpc_url, collection=f"AragStd{uuid.uuid4().hex[:12]}"
        )
        index = WeaviateIndex.open(self.get_embeddings(), settings, create=True)
        try:
            yield index
        finally:
            index._client.collections.delete(settings.collection)
            index.close()
