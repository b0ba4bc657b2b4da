"""Index backends under one contract: the embedded LanceDB index always, Weaviate when live.

A Weaviate run uses a fresh collection per test (deleted afterwards), so it never touches a
user's data. Set ``WEAVIATE_URL`` (and ``WEAVIATE_API_KEY`` for a secured server) to run it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

WEAVIATE_SKIP = (
    "WEAVIATE_URL is not set: the live Weaviate contract tests need a server, e.g. "
    "`docker run -p 8080:8080 -p 50051:50051 cr.weaviate.io/semitechnologies/weaviate:1.33.0` "
    "and WEAVIATE_URL=http://localhost:8080"
)

BACKENDS = [
    pytest.param("lancedb", id="lancedb"),
    pytest.param("weaviate", id="weaviate", marks=pytest.mark.live),
]


def require_weaviate() -> None:
    """Skip (with the reason shown in the summary) unless a live Weaviate is configured."""
    if not os.environ.get("WEAVIATE_URL"):
        print(f"skipped: {WEAVIATE_SKIP}")
        pytest.skip(WEAVIATE_SKIP)


@dataclass
class Backend:
    """One backend under test.

    ``open(embeddings, tenant="default", create=True)`` opens the test's store (the same data
    dir or collection on every call, so a test can reopen it with other embeddings or another
    tenant); ``env`` is what ``tools.ingest.pipeline.ingest`` needs in the environment to write
    there.
    """

    name: str
    open: Callable[..., Any]
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Iterator[Backend]:
    """Each contract test runs once per backend."""
    opened: list = []
    if request.param == "lancedb":
        from tools.index.lance import LanceIndex

        def open_lance(embeddings, tenant: str = "default", create: bool = True):
            return LanceIndex.open(tmp_path / tenant, embeddings, create=create)

        yield Backend("lancedb", open_lance, {"ARAG_INDEX": "lancedb"})
        return

    require_weaviate()
    from tools.index.weaviate import WeaviateIndex, WeaviateSettings

    collection = f"AragContract{uuid.uuid4().hex[:12]}"
    base = WeaviateSettings.from_env()

    def open_weaviate(embeddings, tenant: str = "default", create: bool = True):
        settings = WeaviateSettings(
            url=base.url, grpc_url=base.grpc_url, collection=collection, tenant=tenant
        )
        index = WeaviateIndex.open(embeddings, settings, create=create)
        opened.append(index)
        return index

    env = {"ARAG_INDEX": "weaviate", "ARAG_WEAVIATE_COLLECTION": collection}
    yield Backend("weaviate", open_weaviate, env)
    if opened:
        opened[0]._client.collections.delete(collection)
    for index in opened:
        index.close()
