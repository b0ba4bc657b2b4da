"""The Weaviate adapter without a server: what it declares, queries, filters and writes.

Query and filter objects are checked in the client's own wire form (the REST schema JSON and
the gRPC filter protobuf the client would send); a fake collection stands in for the server.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import numpy as np
import pytest
from langchain_core.documents import Document
from weaviate.classes.query import HybridFusion
from weaviate.collections.classes.config import _CollectionConfigCreate
from weaviate.collections.filters import _FilterToGRPC
from weaviate.util import generate_uuid5

from graph.config import Context
from graph.services import Services
from tests.fakes.weaviate_collection import FakeClient, FakeCollection, make_object
from tools.index import EmbeddingMismatchError, IndexMeta, IndexNotFoundError, weaviate_setup
from tools.index import weaviate as wv
from tools.index.base import IndexCorruptedError
from tools.index.scoring import calibrated_score, lexical_coverage
from tools.index.weaviate import (
    IndexConfigError,
    IndexUnavailableError,
    IndexWriteError,
    WeaviateIndex,
    WeaviateSettings,
    build_filters,
    collection_spec,
    describe,
)


class UnitEmbeddings:
    """4-d embeddings: a text's vector counts the words 'paris', 'lyon', 'banana', 'tide'."""

    model_id = "unit:4"
    dimensions = 4
    WORDS = ("paris", "lyon", "banana", "tide")

    def _vec(self, text: str) -> list[float]:
        words = text.lower().split()
        v = np.array([float(sum(w.strip(".?") == k for w in words)) for k in self.WORDS])
        n = np.linalg.norm(v)
        return (v / n if n else v).tolist()

    def embed_documents(self, texts):
        return [self._vec(t) for t in texts]

    def embed_query(self, text):
        return self._vec(text)


META = IndexMeta("unit:4", 4, backend="weaviate")
SETTINGS = WeaviateSettings(url="http://weaviate.test:8080", tenant="team-a")


def open_fake(collection: FakeCollection | None = None, settings=SETTINGS, create=False):
    collection = collection or FakeCollection(describe(META, {"team-a": "fr"}), tenants={"team-a"})
    client = FakeClient(collection)
    index = WeaviateIndex.open(UnitEmbeddings(), settings, create=create, client=client)
    return index, client


# ---------------------------------------------------------------- collection declaration


def test_collection_declares_self_provided_vectors_bm25_filters_and_tenancy():
    spec = collection_spec("AragChunks", META, {})
    wire = _CollectionConfigCreate(**spec)._to_dict()  # the JSON POSTed to /v1/schema

    assert wire["class"] == "AragChunks"
    vector = wire["vectorConfig"]["default"]
    assert vector["vectorizer"] == {"none": {}}  # we send our own vectors
    assert vector["vectorIndexConfig"]["distance"] == "cosine"
    props = {p["name"]: p for p in wire["properties"]}
    assert props["text"]["tokenization"] == "word" and props["text"]["indexSearchable"]
    for name in ("source", "chunk_id", "doc_id", "language"):
        assert props[name]["indexFilterable"] and props[name]["tokenization"] == "field"
        assert not props[name]["indexSearchable"]
    assert props["ingested_at"]["dataType"] == ["date"]
    assert props["ingested_at"]["indexRangeFilters"]
    assert not props["metadata_json"]["indexSearchable"]
    assert not props["metadata_json"]["indexFilterable"]
    assert wire["multiTenancyConfig"]["enabled"] is True
    assert wire["multiTenancyConfig"]["autoTenantCreation"] is True
    meta, _ = wv.parse_description(wire["description"], "x")
    assert (meta.embedding_model, meta.dimensions) == ("unit:4", 4)


def test_open_creates_collection_and_tenant_and_reads_language():
    client = FakeClient(None)
    index = WeaviateIndex.open(UnitEmbeddings(), SETTINGS, create=True, client=client)

    assert client.created[0]["name"] == "AragChunks"
    assert "team-a" in client.collection.tenants_set
    assert client.collection.tenant == "team-a"  # every call goes through the tenant
    assert index.meta.language == "en"
    index.set_language("fr")
    reopened, _ = open_fake(client.collection)
    assert reopened.meta.language == "fr"


def test_open_without_create_says_to_ingest():
    with pytest.raises(IndexNotFoundError, match="arag ingest"):
        WeaviateIndex.open(UnitEmbeddings(), SETTINGS, client=FakeClient(None))
    other_tenant = FakeCollection(describe(META, {}), tenants={"team-b"})
    with pytest.raises(IndexNotFoundError, match="ARAG_TENANT=team-a"):
        open_fake(other_tenant)


def test_embedding_mismatch_names_both_models_and_the_fix():
    built = FakeCollection(describe(IndexMeta("openai:text-embedding-3-small", 1536), {}))
    with pytest.raises(EmbeddingMismatchError) as err:
        open_fake(built)
    message = str(err.value)
    assert "openai:text-embedding-3-small" in message and "unit:4" in message
    assert "ARAG_EMBEDDINGS=openai:text-embedding-3-small" in message


def test_foreign_collection_is_refused():
    with pytest.raises(IndexCorruptedError, match="not created by arag"):
        open_fake(FakeCollection("someone else's data"))


# ---------------------------------------------------------------- queries and filters


def test_hybrid_query_uses_settings_alpha_fusion_and_returns_scores():
    settings = WeaviateSettings(url=SETTINGS.url, tenant="team-a", alpha=0.3, fusion_type="ranked")
    index, client = open_fake(settings=settings)
    index.hybrid_search("Where is Paris?", k=3, filters={"source": ["a.md", "b.md"]})

    name, call = client.collection.query.calls[-1]
    assert name == "hybrid"
    assert call["query"] == "Where is Paris?"
    assert call["alpha"] == 0.3
    assert call["fusion_type"] is HybridFusion.RANKED
    assert call["vector"] == UnitEmbeddings().embed_query("Where is Paris?")
    assert call["target_vector"] == "default" and call["include_vector"] == ["default"]
    assert call["query_properties"] == ["text"]
    assert call["limit"] == 20  # max(20, 4k): probe agrees with hybrid_search's first hit
    assert call["return_metadata"].score and call["return_metadata"].explain_score
    wire = _FilterToGRPC.convert(call["filters"])
    assert wire.target.property == "source"
    assert list(wire.value_text_array.values) == ["a.md", "b.md"]


def test_filters_combine_exact_matches_and_ingest_time():
    since = datetime(2024, 5, 1, tzinfo=UTC)
    wire = _FilterToGRPC.convert(build_filters({"language": "ko", "ingested_after": since}))
    assert wire.operator == wire.OPERATOR_AND
    by_prop = {f.target.property: f for f in wire.filters}
    assert by_prop["language"].value_text == "ko"
    assert by_prop["language"].operator == wire.OPERATOR_EQUAL
    assert by_prop["ingested_at"].operator == wire.OPERATOR_GREATER_THAN_EQUAL
    assert by_prop["ingested_at"].value_text.startswith("2024-05-01T00:00:00")
    assert build_filters({}) is None
    with pytest.raises(ValueError, match="Unknown filter 'author'"):
        build_filters({"author": "x"})


def test_scores_are_recomputed_from_returned_vectors_and_texts():
    emb = UnitEmbeddings()
    paris = "Paris is the capital of France."
    banana = "Banana bread recipe."
    # Weaviate's fused score puts the banana first; its calibrated score must not follow.
    results = [
        make_object("b", banana, emb.embed_query(banana), score=1.0),
        make_object("p", paris, emb.embed_query(paris), score=0.6),
    ]
    index, _ = open_fake(FakeCollection(describe(META, {}), tenants={"team-a"}, results=results))
    docs = index.hybrid_search("capital Paris", k=2)

    assert [d.id for d in docs] == ["p", "b"]
    top = docs[0].metadata
    expected = calibrated_score(1.0, lexical_coverage("capital Paris", paris))
    assert top["score"] == pytest.approx(expected, abs=1e-4)
    assert top["dense"] == pytest.approx(1.0, abs=1e-4) and top["lexical"] == 1.0
    assert top["hybrid"] == 0.6 and top["rank"] == 0
    assert docs[1].metadata["score"] == 0.0  # orthogonal vector, no shared term
    assert index.probe("capital Paris") == top["score"]


# ---------------------------------------------------------------- writing


def test_upsert_uses_deterministic_uuids_and_keeps_our_ids():
    index, client = open_fake()
    doc = Document(page_content="Lyon", metadata={"source": "f.md", "chunk_id": "f.md#0", "n": 2})
    assert index.add_documents([doc], ids=["f.md#0"]) == ["f.md#0"]
    index.add_documents([doc], ids=["f.md#0"])  # same id again: same object, replaced

    store = client.collection.store
    assert list(store) == [generate_uuid5("f.md#0")]
    props = store[generate_uuid5("f.md#0")]["properties"]
    assert props["doc_id"] == "f.md#0" and props["source"] == "f.md"
    assert props["language"] == "fr"  # the tenant's corpus language
    assert isinstance(props["ingested_at"], datetime)
    index.get_by_ids(["f.md#0", "missing"])
    _, call = client.collection.query.calls[-1]
    wire = _FilterToGRPC.convert(call["filters"])
    wanted = [generate_uuid5("f.md#0"), generate_uuid5("missing")]
    assert list(wire.value_text_array.values) == wanted
    index.delete(["f.md#0"])
    deleted = _FilterToGRPC.convert(client.collection.deleted[0])
    assert list(deleted.value_text_array.values) == [generate_uuid5("f.md#0")]


def test_rejected_objects_are_retried_then_stored(monkeypatch):
    monkeypatch.setattr(wv, "RETRY_BACKOFF", 0.0)
    flaky = generate_uuid5("b")
    rule = lambda attempt, uid: "shard busy" if uid == flaky and attempt == 1 else None  # noqa: E731
    collection = FakeCollection(describe(META, {}), tenants={"team-a"}, failure=rule)
    index, _ = open_fake(collection)
    docs = [Document(page_content=t) for t in ("a", "b", "c")]
    index.add_documents(docs, ids=["a", "b", "c"])

    assert collection.batch.attempts[1] == [flaky]  # only the rejected object is re-sent
    assert len(collection.store) == 3


def test_objects_still_rejected_after_retries_raise_with_a_summary(monkeypatch):
    monkeypatch.setattr(wv, "RETRY_BACKOFF", 0.0)
    bad = {generate_uuid5("b"), generate_uuid5("c")}
    rule = lambda attempt, uid: "vector lengths don't match" if uid in bad else None  # noqa: E731
    collection = FakeCollection(describe(META, {}), tenants={"team-a"}, failure=rule)
    index, _ = open_fake(collection)
    with pytest.raises(IndexWriteError) as err:
        index.add_documents([Document(page_content=t) for t in "abc"], ids=list("abc"))

    assert len(collection.batch.attempts) == wv.MAX_WRITE_ATTEMPTS  # bounded
    assert "rejected 2 of 3 chunks" in str(err.value)
    assert "2x vector lengths don't match" in str(err.value)
    assert list(collection.store) == [generate_uuid5("a")]  # the good one is kept


# ---------------------------------------------------------------- configuration and errors


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_says_what_to_do(monkeypatch):
    monkeypatch.setenv("WEAVIATE_API_KEY", "wv-secret-key")
    settings = WeaviateSettings(url=f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(IndexUnavailableError) as err:
        WeaviateIndex.open(UnitEmbeddings(), settings)  # the real client, nothing listening
    message = str(err.value)
    assert settings.url in message and "docker run -p 8080:8080 -p 50051:50051" in message
    assert "wv-secret-key" not in message


def test_graph_services_report_an_unreachable_weaviate(tmp_path):
    ctx = Context(
        data_dir=str(tmp_path),
        index_backend="weaviate",
        weaviate_url=f"http://127.0.0.1:{_closed_port()}",
    )
    services = Services(chat_model=None, embeddings=UnitEmbeddings())
    index, message = services.try_index(ctx)
    assert index is None and "Is Weaviate running?" in message


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"url": ""}, "needs WEAVIATE_URL"),
        ({"fusion_type": "rrf"}, "ARAG_FUSION_TYPE"),
        ({"alpha": 1.5}, "ARAG_HYBRID_ALPHA"),
        ({"tenant": "a b"}, "Tenant 'a b'"),
        ({"collection": "chunks"}, "capital letter"),
    ],
)
def test_bad_settings_name_the_variable(change, needle):
    settings = WeaviateSettings(**{"url": "http://localhost:8080", **change})
    with pytest.raises(IndexConfigError, match=needle):
        WeaviateIndex.open(UnitEmbeddings(), settings, client=FakeClient(None))


def test_cloud_urls_use_the_cloud_helper():
    assert weaviate_setup.is_cloud_url("https://abc123.c0.europe-west3.gcp.weaviate.cloud")
    assert not weaviate_setup.is_cloud_url("http://localhost:8080")


# ---------------------------------------------------------------- workspaces and doc filters


def test_a_document_filter_reaches_the_hybrid_query_as_weaviate_filters():
    from tools.index.filters import DocFilter

    index, client = open_fake()
    doc_filter = DocFilter.parse(
        {"source_prefix": "handbook/", "tags": ["hr"], "file_types": ["md"]}
    )
    index.hybrid_search("Where is Paris?", k=3, filters=doc_filter)
    _, call = client.collection.query.calls[-1]
    wire = _FilterToGRPC.convert(call["filters"])
    by_prop = {f.target.property: f for f in wire.filters}
    assert by_prop["display"].operator == wire.OPERATOR_LIKE
    assert by_prop["display"].value_text == "handbook/*"
    assert list(by_prop["tags"].value_text_array.values) == ["hr"]
    assert list(by_prop["file_type"].value_text_array.values) == ["md"]


def test_ingest_metadata_is_written_as_filterable_properties():
    index, client = open_fake()
    meta = {"source": "/srv/h/a.md", "display": "h/a.md", "tags": ["hr"], "file_type": "md"}
    index.add_documents([Document(page_content="Lyon", metadata=meta)], ids=["a#0"])
    props = client.collection.store[generate_uuid5("a#0")]["properties"]
    assert (props["display"], props["tags"], props["file_type"]) == ("h/a.md", ["hr"], "md")
    spec = collection_spec("AragChunks", META, {})
    assert {"display", "tags", "file_type"} <= {p.name for p in spec["properties"]}


def test_each_workspace_is_its_own_tenant():
    ctx = Context(index_backend="weaviate", weaviate_url=SETTINGS.url, tenant="acme")
    assert WeaviateSettings.from_context(ctx).tenant == "acme"  # the default workspace
    ctx.workspace = "team-b"
    assert WeaviateSettings.from_context(ctx).tenant == "team-b"
