"""Ingest into the embedded LanceDB index and search it, as a user of `arag ingest` would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from tools.index import (
    EmbeddingMismatchError,
    HybridIndex,
    IndexCorruptedError,
    IndexNotFoundError,
    open_index,
)
from tools.index.lance import LanceIndex
from tools.ingest.pipeline import ingest

TOPICS = {
    "volcanoes.md": "# Volcanoes\n\nMount Etna in Sicily is one of the most active volcanoes in "
    "Europe. Its 1669 eruption sent lava flows into the city of Catania. Magma chambers feed "
    "volcanic eruptions.\n",
    "sourdough.md": "# Sourdough baking\n\nSourdough bread is leavened by a starter culture of "
    "wild yeast and lactobacilli. Bakers feed the starter with flour and water and proof the "
    "dough overnight.\n",
    "chess.md": "# Chess openings\n\nThe Sicilian Defence begins 1.e4 c5 and is the most popular "
    "reply to the king's pawn. Grandmasters study opening theory for decades.\n",
    "tides.md": "# Ocean tides\n\nTides are caused by the gravitational pull of the Moon and the "
    "Sun on the oceans. Spring tides occur at full and new moon.\n",
}


class FakeEmbeddings(Embeddings):
    """Another embedding model as far as the index can tell."""

    model_id = "fake:8"
    dimensions = 8

    def embed_documents(self, texts):
        return [[1.0] + [0.0] * 7 for _ in texts]

    def embed_query(self, text):
        return [1.0] + [0.0] * 7


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    for name, text in TOPICS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


def test_ingest_and_search_finds_the_right_source(corpus, data_dir, embeddings):
    report = ingest([corpus], data_dir, embeddings)
    assert report.files_ok == 4 and not report.files_failed
    assert report.num_added == report.chunks_total == 4
    assert report.language == "en"
    assert "4 files ok" in report.summary()

    index = open_index(data_dir, embeddings)
    assert isinstance(index, HybridIndex)
    assert index.count() == 4
    assert index.meta.language == "en"
    assert index.meta.embedding_model == "wordllama:l2_supercat-256"

    for question, expected in [
        ("When did Etna erupt and where did the lava flow?", "volcanoes.md"),
        ("How do bakers feed a sourdough starter?", "sourdough.md"),
        ("What causes spring tides?", "tides.md"),
        ("Which opening starts with e4 c5?", "chess.md"),
    ]:
        hits = index.hybrid_search(question, k=3)
        assert Path(hits[0].metadata["source"]).name == expected, question
        meta = hits[0].metadata
        assert {"source", "chunk_id", "title", "score", "dense", "lexical", "rank"} <= set(meta)
        assert 0.0 <= meta["score"] <= 1.0 and meta["rank"] == 0
        assert meta["chunk_id"] == f"{meta['source']}#0"
        assert [h.metadata["score"] for h in hits][0] == index.probe(question)


def test_unrelated_question_scores_lower_than_related(corpus, data_dir, embeddings):
    ingest([corpus], data_dir, embeddings)
    index = open_index(data_dir, embeddings)
    assert index.probe("When did Etna erupt?") > index.probe("Who painted the Mona Lisa?") + 0.2


def test_reingest_unchanged_adds_nothing(corpus, data_dir, embeddings):
    ingest([corpus], data_dir, embeddings)
    again = ingest([corpus], data_dir, embeddings)
    assert again.num_added == 0 and again.num_deleted == 0
    assert again.num_skipped == 4
    assert again.chunks_total == 4


def test_changed_file_replaces_its_chunks(corpus, data_dir, embeddings):
    ingest([corpus], data_dir, embeddings)
    (corpus / "tides.md").write_text(
        "# Ocean tides\n\nNeap tides happen at the Moon's quarter phases, when the Sun and Moon "
        "pull at right angles.\n",
        encoding="utf-8",
    )
    report = ingest([corpus], data_dir, embeddings)
    assert report.num_added + report.num_updated == 1
    assert report.num_deleted == 1
    assert report.num_skipped == 3
    index = open_index(data_dir, embeddings)
    assert index.count() == 4  # no duplicates
    top = index.hybrid_search("When do neap tides happen?", k=1)[0]
    assert "Neap tides" in top.page_content
    old = [d for d in index.hybrid_search("spring tides", k=4) if "Spring tides" in d.page_content]
    assert old == []


def test_full_cleanup_removes_deleted_files(corpus, data_dir, embeddings):
    ingest([corpus], data_dir, embeddings)
    (corpus / "chess.md").unlink()
    kept = ingest([corpus], data_dir, embeddings)  # incremental: nothing removed
    assert kept.num_deleted == 0 and kept.chunks_total == 4
    report = ingest([corpus], data_dir, embeddings, cleanup="full")
    assert report.num_deleted == 1
    assert report.chunks_total == 3
    index = open_index(data_dir, embeddings)
    hits = index.hybrid_search("Sicilian Defence", k=5)
    sources = {Path(d.metadata["source"]).name for d in hits}
    assert "chess.md" not in sources


def test_bad_file_is_reported_and_others_ingested(corpus, data_dir, embeddings):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    progress = []
    report = ingest(
        [corpus], data_dir, embeddings, on_progress=lambda d, t, p: progress.append((d, t))
    )
    failed = {Path(p).name: msg for p, msg in report.files_failed}
    assert set(failed) == {"empty.txt", "blob.txt"}
    assert "empty" in failed["empty.txt"] and "binary" in failed["blob.txt"]
    assert report.files_ok == 4 and report.chunks_total == 4
    assert progress[-1] == (6, 6) and len(progress) == 6


def test_embedding_mismatch_names_both_models(corpus, data_dir, embeddings):
    ingest([corpus], data_dir, embeddings)
    with pytest.raises(EmbeddingMismatchError) as info:
        open_index(data_dir, FakeEmbeddings())
    message = str(info.value)
    assert "wordllama:l2_supercat-256" in message and "fake:8" in message
    assert "ARAG_EMBEDDINGS=wordllama:l2_supercat-256" in message


def test_missing_index_says_run_ingest(tmp_path, embeddings):
    with pytest.raises(IndexNotFoundError, match="arag ingest"):
        open_index(tmp_path / "nothing-here", embeddings)


def test_truncated_meta_is_reported_as_corrupted(corpus, data_dir, embeddings):
    ingest([corpus], data_dir, embeddings)
    meta = data_dir / "index_meta.json"
    meta.write_text(meta.read_text()[:10])
    with pytest.raises(IndexCorruptedError, match="index_meta.json"):
        open_index(data_dir, embeddings)


def test_meta_file_is_valid_json_with_model_and_language(corpus, data_dir, embeddings):
    ingest([corpus], data_dir, embeddings)
    meta = json.loads((data_dir / "index_meta.json").read_text())
    calibration = meta.pop("calibration")
    assert meta == {
        "embedding_model": "wordllama:l2_supercat-256",
        "dimensions": 256,
        "language": "en",
        "backend": "lancedb",
    }
    # The cosine ramp the index was built with, fitted for WordLlama.
    assert calibration["embedding_model"] == "wordllama:l2_supercat-256"
    assert (calibration["cos_low"], calibration["cos_high"]) == (0.15, 0.65)
    assert calibration["fitted_on"].startswith("XQuAD-en")


def test_another_embedding_model_gets_its_own_calibration_or_a_flagged_fallback(tmp_path):
    index = LanceIndex.open(tmp_path / "fake", FakeEmbeddings(), create=True)
    recorded = json.loads((tmp_path / "fake" / "index_meta.json").read_text())["calibration"]
    assert recorded["embedding_model"] == "fake:8" and recorded["fitted_on"] == ""
    assert not index.meta.score_calibration.fitted


def test_search_scores_cosines_with_the_ramp_the_index_recorded(data_dir, embeddings):
    index = LanceIndex.open(data_dir, embeddings, create=True)
    index.add_texts(
        ["Etna is a volcano in Sicily."], [{"source": "/v.md", "title": "V"}], ids=["v"]
    )
    index.refresh_fts()
    query = "mountains of Italy"  # no shared term: the score is the dense part alone
    wordllama = index.hybrid_search(query, k=1)[0].metadata
    # The same index as if built with a model whose cosines run higher (ramp 0.5 .. 0.9).
    meta = json.loads((data_dir / "index_meta.json").read_text())
    meta["calibration"].update(cos_low=0.5, cos_high=0.9)
    (data_dir / "index_meta.json").write_text(json.dumps(meta))
    steeper = LanceIndex.open(data_dir, embeddings).hybrid_search(query, k=1)[0].metadata
    assert wordllama["lexical"] == steeper["lexical"] == 0.0
    assert steeper["dense"] == wordllama["dense"]
    assert steeper["score"] < wordllama["score"]


def test_search_without_fts_index_falls_back_to_vectors(data_dir, embeddings):
    index = LanceIndex.open(data_dir, embeddings, create=True)
    assert index.hybrid_search("anything", k=3) == []  # empty index: no crash
    index.add_texts(
        ["Etna is a volcano in Sicily.", "Sourdough uses a starter."],
        [{"source": "/v.md", "title": "V"}, {"source": "/s.md", "title": "S"}],
        ids=["v", "s"],
    )
    assert not index.has_fts
    assert index.hybrid_search("volcano in Sicily", k=1)[0].metadata["source"] == "/v.md"
    index.refresh_fts()
    index.add_texts(["Tides follow the Moon."], [{"source": "/t.md", "title": "T"}], ids=["t"])
    # Rows written after the FTS build are still found.
    assert index.hybrid_search("Tides Moon", k=1)[0].metadata["source"] == "/t.md"


def test_vectorstore_upsert_get_and_delete(data_dir, embeddings):
    index = LanceIndex.open(data_dir, embeddings, create=True)
    index.add_texts(["first version"], [{"source": "/a.md", "page": 3}], ids=["a"])
    index.add_texts(["second version"], [{"source": "/a.md", "page": 3}], ids=["a"])
    assert index.count() == 1
    [doc] = index.get_by_ids(["a", "missing"])
    assert doc.page_content == "second version" and doc.metadata["page"] == 3
    assert index.similarity_search("second version", k=1)[0].id == "a"
    index.delete(["a"])
    assert index.count() == 0


def test_korean_corpus_is_detected_and_searchable(tmp_path, data_dir, embeddings):
    root = tmp_path / "ko"
    root.mkdir()
    (root / "seoul.md").write_text(
        "# 서울\n\n서울은 대한민국의 수도이며 가장 큰 도시입니다. "
        "한강이 도시를 가로질러 흐릅니다.\n",
        encoding="utf-8",
    )
    (root / "kimchi.md").write_text(
        "# 김치\n\n김치는 배추와 고춧가루로 만드는 한국의 전통 발효 음식입니다.\n", encoding="utf-8"
    )
    report = ingest([root], data_dir, embeddings)
    assert report.language == "ko"
    index = open_index(data_dir, embeddings)
    assert index.meta.language == "ko"
    assert index.hybrid_search("김치는 무엇으로 만드나요?", k=1)[0].metadata["title"] == "김치"
