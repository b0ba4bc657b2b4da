"""In-memory stand-ins for a weaviate-client v4 client and collection (no server).

They record the keyword arguments the adapter passes (query objects, filters, batch objects) and
answer with the client's own result classes where the adapter reads them. Only the calls
``tools.index.weaviate`` makes are implemented.
"""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from weaviate.collections.classes.batch import BatchObject, ErrorObject
from weaviate.collections.classes.internal import MetadataReturn, Object

# failure(attempt, uuid) -> error message, or None to accept the object
FailureRule = Callable[[int, str], str | None]


def make_object(
    doc_id: str,
    text: str,
    vector: list[float],
    *,
    score: float | None = None,
    distance: float | None = None,
    metadata_json: str = "{}",
    source: str = "",
) -> Object:
    """A query result as the client returns it."""
    from weaviate.util import generate_uuid5

    return Object(
        uuid=uuid_mod.UUID(generate_uuid5(doc_id)),
        metadata=MetadataReturn(score=score, distance=distance, explain_score="(fake)"),
        properties={
            "doc_id": doc_id,
            "text": text,
            "source": source,
            "chunk_id": doc_id,
            "title": "",
            "metadata_json": metadata_json,
        },
        references=None,
        vector={"default": vector},
        collection="AragChunks",
    )


@dataclass
class FakeBatch:
    """What ``collection.batch.dynamic()`` yields: collects ``add_object`` calls."""

    added: list[dict] = field(default_factory=list)

    def add_object(self, properties=None, references=None, uuid=None, vector=None):
        self.added.append({"properties": properties, "uuid": str(uuid), "vector": vector})
        return uuid


class FakeBatchWrapper:
    """``collection.batch``: dynamic batching whose rejections follow ``failure``."""

    def __init__(self, store: dict, failure: FailureRule | None):
        self.store = store
        self.failure = failure
        self.attempts: list[list[str]] = []  # uuids sent per dynamic() context
        self.failed_objects: list[ErrorObject] = []

    @contextmanager
    def dynamic(self):
        batch = FakeBatch()
        yield batch
        attempt = len(self.attempts) + 1
        self.attempts.append([o["uuid"] for o in batch.added])
        self.failed_objects = []
        for i, obj in enumerate(batch.added):
            message = self.failure(attempt, obj["uuid"]) if self.failure else None
            if message:
                self.failed_objects.append(
                    ErrorObject(
                        message=message,
                        object_=BatchObject(
                            collection="AragChunks",
                            properties=obj["properties"],
                            uuid=obj["uuid"],
                            vector=obj["vector"],
                            index=i,
                        ),
                        original_uuid=obj["uuid"],
                    )
                )
            else:
                self.store[obj["uuid"]] = obj


class FakeQuery:
    """``collection.query``: records each call and returns the scripted objects."""

    def __init__(self, results: list[Object]):
        self.results = results
        self.calls: list[tuple[str, dict]] = []

    def _answer(self, name: str, kwargs: dict):
        self.calls.append((name, kwargs))
        return SimpleNamespace(objects=list(self.results))

    def hybrid(self, **kwargs):
        return self._answer("hybrid", kwargs)

    def near_vector(self, **kwargs):
        return self._answer("near_vector", kwargs)

    def bm25(self, **kwargs):
        return self._answer("bm25", kwargs)

    def fetch_objects(self, **kwargs):
        return self._answer("fetch_objects", kwargs)


class FakeCollection:
    """A collection handle; ``with_tenant`` returns a handle that remembers the tenant."""

    def __init__(
        self,
        description: str,
        *,
        tenants: set[str] | None = None,
        results: list[Object] | None = None,
        failure: FailureRule | None = None,
        tenant: str | None = None,
    ):
        self.description = description
        self.tenants_set = set() if tenants is None else tenants
        self.tenant = tenant
        self.store: dict[str, dict] = {}
        self.query = FakeQuery(results or [])
        self.batch = FakeBatchWrapper(self.store, failure)
        self.deleted: list[Any] = []
        self.config = SimpleNamespace(
            get=lambda: SimpleNamespace(description=self.description),
            update=self._update,
        )
        self.tenants = SimpleNamespace(
            exists=lambda name: name in self.tenants_set,
            create=lambda ts: self.tenants_set.update(t.name for t in ts),
        )
        self.data = SimpleNamespace(delete_many=self._delete_many)
        self.aggregate = SimpleNamespace(
            over_all=lambda total_count: SimpleNamespace(total_count=len(self.store))
        )

    def _update(self, *, description: str) -> None:
        self.description = description

    def _delete_many(self, *, where):
        self.deleted.append(where)
        return SimpleNamespace(failed=0, matches=0, successful=0)

    def with_tenant(self, tenant: str) -> FakeCollection:
        self.tenant = tenant
        return self


class FakeClient:
    """``WeaviateClient`` with ``collections.exists/create/use`` over one ``FakeCollection``."""

    def __init__(self, collection: FakeCollection | None):
        self.collection = collection
        self.created: list[dict] = []
        self.closed = False
        self.collections = SimpleNamespace(
            exists=lambda name: self.collection is not None,
            create=self._create,
            use=lambda name: self.collection,
        )

    def _create(self, **spec):
        self.created.append(spec)
        self.collection = FakeCollection(spec["description"])
        return self.collection

    def close(self) -> None:
        self.closed = True
