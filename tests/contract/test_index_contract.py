"""What the graph and ingestion rely on from any index backend (see conftest for backends)."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from tools.index import EmbeddingMismatchError, HybridIndex, IndexNotFoundError
from tools.ingest.pipeline import ingest

CHUNKS = {
    "volcanoes.md#0": (
        "Volcanoes",
        "Mount Etna in Sicily is one of the most active volcanoes in Europe. Its 1669 "
        "eruption sent lava flows into the city of Catania.",
    ),
    "sourdough.md#0": (
        "Sourdough baking",
        "Sourdough bread is leavened by a starter culture of wild yeast and lactobacilli. "
        "Bakers feed the starter with flour and water.",
    ),
    "chess.md#0": (
        "Chess openings",
        "The Sicilian Defence begins 1.e4 c5 and is the most popular reply to the king's pawn.",
    ),
    "tides.md#0": (
        "Ocean tides",
        "Tides are caused by the gravitational pull of the Moon and the Sun on the oceans.",
    ),
}


class OtherEmbeddings(Embeddings):
    """Another embedding model as far as an index can tell."""

    model_id = "other:8"
    dimensions = 8

    def embed_documents(self, texts):
        return [[1.0] + [0.0] * 7 for _ in texts]

    def embed_query(self, text):
        return [1.0] + [0.0] * 7


def docs(chunk_ids=CHUNKS) -> list[Document]:
    return [
        Document(
            page_content=CHUNKS[cid][1],
            metadata={"source": cid.split("#")[0], "chunk_id": cid, "title": CHUNKS[cid][0]},
        )
        for cid in chunk_ids
    ]


def write(index, documents: list[Document]) -> None:
    index.add_documents(documents, ids=[d.metadata["chunk_id"] for d in documents])
    index.refresh_fts()


def test_hybrid_search_ranks_the_matching_chunk_first_with_calibrated_scores(backend, embeddings):
    index = backend.open(embeddings)
    write(index, docs())
    assert isinstance(index, HybridIndex) and index.count() == 4

    hits = index.hybrid_search("When did Etna's lava reach Catania?", k=3)
    assert len(hits) == 3
    top = hits[0].metadata
    assert (top["chunk_id"], top["source"], top["title"]) == (
        "volcanoes.md#0",
        "volcanoes.md",
        "Volcanoes",
    )
    assert [d.metadata["rank"] for d in hits] == [0, 1, 2]
    for hit in hits:
        assert 0.0 <= hit.metadata["score"] <= 1.0
        assert {"dense", "lexical"} <= hit.metadata.keys()
    assert top["score"] > hits[1].metadata["score"]
    assert index.probe("When did Etna's lava reach Catania?") == top["score"]
    assert index.hybrid_search("   ", k=3) == [] and index.hybrid_search("Etna", k=0) == []


def test_probe_is_higher_for_covered_questions(backend, embeddings):
    index = backend.open(embeddings)
    write(index, docs())
    covered = index.probe("What causes ocean tides?")
    uncovered = index.probe("Who composed the Moonlight Sonata?")
    assert covered > uncovered
    assert covered >= 0.35  # the default probe_weak: the graph retrieves for it


def test_upsert_by_id_replaces_and_delete_removes(backend, embeddings):
    index = backend.open(embeddings)
    write(index, docs())
    changed = Document(
        page_content="The Sicilian Najdorf is a sharp variation.",
        metadata={"source": "chess.md", "chunk_id": "chess.md#0", "title": "Chess openings"},
    )
    write(index, [changed])
    assert index.count() == 4
    [got] = index.get_by_ids(["chess.md#0"])
    assert got.id == "chess.md#0" and "Najdorf" in got.page_content

    index.delete(["chess.md#0", "never-stored"])
    assert index.count() == 3
    assert index.get_by_ids(["chess.md#0"]) == []
    found = {d.id for d in index.get_by_ids(["tides.md#0", "chess.md#0"])}
    assert found == {"tides.md#0"}


def test_reopening_with_other_embeddings_is_refused(backend, embeddings):
    write(backend.open(embeddings), docs(["tides.md#0"]))
    with pytest.raises(EmbeddingMismatchError) as err:
        backend.open(OtherEmbeddings())
    assert "wordllama" in str(err.value) and "other:8" in str(err.value)


def test_missing_index_is_reported_not_created(backend, embeddings):
    with pytest.raises(IndexNotFoundError, match="arag ingest"):
        backend.open(embeddings, tenant="nobody", create=False)


def test_corpus_language_survives_reopening(backend, embeddings):
    index = backend.open(embeddings)
    index.set_language("ko")
    assert backend.open(embeddings).meta.language == "ko"


def test_tenants_do_not_see_each_other(backend, embeddings):
    team_a = backend.open(embeddings, tenant="team-a")
    team_b = backend.open(embeddings, tenant="team-b")
    write(team_a, docs(["volcanoes.md#0"]))
    write(team_b, docs(["tides.md#0"]))

    assert team_b.count() == 1
    assert team_b.get_by_ids(["volcanoes.md#0"]) == []
    assert all(d.id != "volcanoes.md#0" for d in team_b.hybrid_search("Etna Catania", k=5))
    assert team_a.hybrid_search("Etna Catania", k=1)[0].id == "volcanoes.md#0"


def test_ingest_twice_writes_nothing_the_second_time(backend, embeddings, tmp_path, monkeypatch):
    for name, value in backend.env.items():
        monkeypatch.setenv(name, value)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for cid, (title, text) in CHUNKS.items():
        (corpus / cid.split("#")[0]).write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
    data_dir = tmp_path / "default"  # the lancedb backend's default-tenant dir

    first = ingest([corpus], data_dir, embeddings, backend=backend.name)
    second = ingest([corpus], data_dir, embeddings, backend=backend.name)

    assert first.num_added == 4 and first.chunks_total == 4
    assert (second.num_added, second.num_deleted, second.num_skipped) == (0, 0, 4)
    assert second.chunks_total == 4
    hit = backend.open(embeddings).hybrid_search("sourdough starter yeast", k=1)[0]
    assert hit.metadata["source"].endswith("sourdough.md")
