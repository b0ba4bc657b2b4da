"""Ingestion does its expensive work once: unchanged files cost no embedding, one index refresh."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

import tools.ingest.pipeline as ingest_module
from tools.index.lance import LanceIndex
from tools.ingest.pipeline import ingest


class CountingEmbeddings(Embeddings):
    """WordLlama as far as the index can tell, counting the texts it is asked to embed."""

    def __init__(self, base):
        self.base = base
        self.model_id = base.model_id
        self.dimensions = base.dimensions
        self.languages = base.languages
        self.embedded: list[str] = []

    def embed_array(self, texts):
        self.embedded.extend(texts)
        return self.base.embed_array(texts)

    def embed_documents(self, texts):
        return self.embed_array(texts).tolist()

    def embed_query(self, text):
        return self.base.embed_query(text)


def write_corpus(root: Path, files: int) -> None:
    root.mkdir()
    for i in range(files):
        paras = "\n\n".join(
            f"Report {i} paragraph {p}: the harbour town {i} exports grain and timber."
            for p in range(6)
        )
        (root / f"report{i:02d}.md").write_text(f"# Harbour report {i}\n\n{paras}\n")


@pytest.fixture
def counting(embeddings) -> CountingEmbeddings:
    return CountingEmbeddings(embeddings)


@pytest.fixture
def optimize_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = LanceIndex.optimize

    def counted(self, **kwargs):
        calls.append(self.count())
        return original(self, **kwargs)

    monkeypatch.setattr(LanceIndex, "optimize", counted)
    return calls


def test_index_refreshed_once_per_ingest_after_all_writes(
    tmp_path, counting, optimize_calls, monkeypatch
):
    write_corpus(tmp_path / "corpus", 8)
    # Force several indexing calls (a few files each): still one refresh, at the end.
    monkeypatch.setattr(ingest_module, "INDEX_BATCH_CHUNKS", 3)
    report = ingest([tmp_path / "corpus"], tmp_path / "data", counting, chunk_tokens=60)
    assert report.num_added == report.chunks_total > 8
    assert optimize_calls == [report.chunks_total]
    assert len(counting.embedded) == report.chunks_total  # each chunk embedded once


def test_unchanged_reingest_embeds_nothing_and_full_cleanup_keeps_those_files(
    tmp_path, counting, optimize_calls
):
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    write_corpus(corpus, 6)
    first = ingest([corpus], data, counting, chunk_tokens=60)
    (corpus / "report05.md").unlink()
    (corpus / "report04.md").write_text("# Harbour report 4\n\nThe harbour closed in 1901.\n")
    counting.embedded.clear()
    optimize_calls.clear()

    again = ingest([corpus], data, counting, chunk_tokens=60, cleanup="full")

    # Only the changed file is embedded; the four unchanged ones are skipped, not re-read.
    assert counting.embedded and all("closed in 1901" in t for t in counting.embedded)
    per_file = first.chunks_total // 6
    assert again.num_skipped == 4 * per_file
    assert again.num_deleted == 2 * per_file  # the deleted file and the changed one's old chunks
    assert again.chunks_total == 4 * per_file + again.num_added
    index = LanceIndex.open(data, counting)
    sources = {Path(d.metadata["source"]).name for d in index.hybrid_search("harbour", k=50)}
    assert sources == {f"report{i:02d}.md" for i in range(5)}

    counting.embedded.clear()
    optimize_calls.clear()
    third = ingest([corpus], data, counting, chunk_tokens=60, cleanup="full")
    assert counting.embedded == [] and optimize_calls == []
    assert not third.changed and third.chunks_total == again.chunks_total


def test_wordllama_vectors_equal_the_library_pooling(embeddings):
    texts = ["Mount Etna erupted in 1669.", "", "Ebbe und Flut " * 50, "밀물과 썰물"]
    ours = embeddings.embed_array(texts)
    with np.errstate(invalid="ignore"):
        ref = np.asarray(embeddings.model.embed(texts, norm=True), dtype=np.float32)
    ref = np.nan_to_num(ref)  # the library divides the empty text's zero vector by zero
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert not ours[1].any()


def test_search_reads_full_rows_only_for_results_and_survives_stale_row_ids(tmp_path, embeddings):
    from langchain_core.documents import Document

    index = LanceIndex.open(tmp_path / "data", embeddings, create=True)
    texts = [f"Harbour {i} exports grain, timber and wool to port {i}." for i in range(30)]
    index.add_documents(
        [Document(t, metadata={"source": f"/h{i}.md"}) for i, t in enumerate(texts)],
        ids=[f"h{i}" for i in range(30)],
    )
    index.refresh_fts()
    top = index.hybrid_search("Which harbour exports wool to port 7?", k=3)
    assert top[0].id == "h7" and top[0].page_content == texts[7]
    assert top[0].metadata["source"] == "/h7.md" and "_rowid" not in top[0].metadata
    # Row ids change when the table is compacted between a search and its read-back: a row
    # id that now holds another row (or none) is read again by id.
    stale = [
        Document(id="h7", page_content="", metadata={"_rowid": 3}),
        Document(id="h9", page_content="", metadata={"_rowid": 10**12}),
    ]
    assert [d.page_content for d in index._full_documents(stale)] == [texts[7], texts[9]]


def test_small_table_search_in_memory_matches_lancedb_and_sees_writes(
    tmp_path, embeddings, monkeypatch
):
    from langchain_core.documents import Document

    import tools.index.memory_copy as memory_copy

    index = LanceIndex.open(tmp_path / "data", embeddings, create=True)
    texts = [f"Harbour {i} exports grain, timber and wool to port {i}." for i in range(30)]
    index.add_documents(
        [Document(t, metadata={"source": f"/h{i}.md"}) for i, t in enumerate(texts)],
        ids=[f"h{i}" for i in range(30)],
    )
    index.refresh_fts()
    queries = ["wool to port 7", "Which harbour exports timber?", "grain 12"]
    in_memory = [index.hybrid_search(q, k=5) for q in queries]
    assert index._memory.current is not None  # the 30-row table was searched in memory
    monkeypatch.setattr(memory_copy, "SMALL_TABLE_ROWS", 0)
    monkeypatch.setattr(memory_copy, "MEMORY_TABLE_ROWS", 0)
    reopened = LanceIndex.open(tmp_path / "data", embeddings)
    on_disk = [reopened.hybrid_search(q, k=5) for q in queries]
    assert reopened._memory.current is None
    monkeypatch.undo()
    assert [[(d.id, d.metadata) for d in r] for r in in_memory] == [
        [(d.id, d.metadata) for d in r] for r in on_disk
    ]
    # Writes through the index drop the in-memory copy: new and deleted rows show at once.
    index.add_documents(
        [Document("Lighthouse keeper's logbook.", metadata={"source": "/l.md"})], ids=["l1"]
    )
    index.delete(["h7"])
    index.refresh_fts()
    assert index.hybrid_search("lighthouse logbook", k=1)[0].id == "l1"
    assert "h7" not in {d.id for d in index.hybrid_search("wool to port 7", k=30)}


def test_ann_search_reports_exact_cosines(tmp_path, embeddings, monkeypatch):
    import tools.index.lance as lance
    import tools.index.memory_copy as memory_copy

    monkeypatch.setattr(lance, "ANN_MIN_ROWS", 300)
    monkeypatch.setattr(memory_copy, "SMALL_TABLE_ROWS", 0)
    monkeypatch.setattr(memory_copy, "MEMORY_TABLE_ROWS", 0)  # through LanceDB, not memory
    import random

    from langchain_core.documents import Document

    rng = random.Random(7)
    words = (
        "harbour grain timber wool port river mill bridge market tower castle church farm "
        "village railway station school garden forest mountain lake island coast valley road "
        "king queen army battle treaty war peace trade ship merchant bank coin tax law court"
    ).split()
    texts = [" ".join(rng.choice(words) for _ in range(25)) for _ in range(400)]
    index = LanceIndex.open(tmp_path / "data", embeddings, create=True)
    index.add_documents(
        [Document(t, metadata={"source": "/r.md"}) for t in texts],
        ids=[f"r{i}" for i in range(400)],
    )
    index.refresh_fts()
    assert index.index_summary().get("vector")  # the ANN index was built
    query = "timber from the mill by the bridge"
    qvec = np.asarray(embeddings.embed_query(query))
    exact = {f"r{i}": float(v @ qvec) for i, v in enumerate(embeddings.embed_array(texts))}
    for doc in index.hybrid_search(query, k=10):
        # Scalar-quantized distances are off by up to ~0.9; re-scored ones match the vectors.
        assert abs(doc.metadata["dense"] - exact[doc.id]) < 2e-4


def test_chunks_embed_from_the_token_ids_their_chunking_measured(embeddings):
    """Each paragraph is tokenized once: a chunk's ids are its paragraphs' ids, joined."""
    from langchain_core.documents import Document

    from tools.ingest.chunking import chunk_documents

    body = "\n\n".join(
        f"Paragraph {i} tells of harbour {i}, its grain, timber and wool." * 6 for i in range(40)
    )
    docs = [
        Document(f"# Ports\n\n{body}\n", metadata={"source": "/ports.md", "title": "Ports"}),
        Document(body, metadata={"source": "/plain.txt"}),  # no title: no context line
    ]
    known: dict[str, list[int]] = {}
    chunks = chunk_documents(docs, chunk_tokens=200, overlap_tokens=20, token_ids=known)
    assert len(chunks) > 6 and set(known) == {c.page_content for c in chunks}
    for chunk in chunks:  # the same ids as tokenizing the chunk text itself
        assert known[chunk.page_content] == embeddings._tokenize([chunk.page_content])[0]
        assert len(known[chunk.page_content]) <= 200
    texts = [c.page_content for c in chunks]
    with embeddings.known_token_ids(known):
        reused = embeddings.embed_array(texts)
    assert np.allclose(reused, embeddings.embed_array(texts), atol=1e-6)
    # A paragraph longer than a chunk is cut inside: that chunk is tokenized at embedding.
    long = Document(" ".join(["word"] * 500), metadata={"source": "/long.txt"})
    known.clear()
    chunk_documents([long], chunk_tokens=200, overlap_tokens=20, token_ids=known)
    assert known == {}


def test_exact_search_bypasses_the_ann_index(tmp_path, embeddings, monkeypatch):
    """``exact_search`` (benchmarks/retrieval/exact_vs_ann.py) scans every row: a numpy ranking."""
    import tools.index.lance as lance
    import tools.index.memory_copy as memory_copy

    monkeypatch.setattr(lance, "ANN_MIN_ROWS", 300)
    monkeypatch.setattr(memory_copy, "SMALL_TABLE_ROWS", 0)
    monkeypatch.setattr(memory_copy, "MEMORY_TABLE_ROWS", 0)
    from langchain_core.documents import Document

    texts = [f"harbour {i} timber {i % 7} mill {i % 11} bridge {i % 13}" for i in range(400)]
    index = LanceIndex.open(tmp_path / "data", embeddings, create=True)
    index.add_documents([Document(t) for t in texts], ids=[f"r{i}" for i in range(400)])
    index.refresh_fts()
    qvec = embeddings.embed_query("timber from the mill")
    assert "ANNSubIndex" in index._vector_query(qvec, 10).explain_plan()
    index.exact_search = True
    plan = index._vector_query(qvec, 10).explain_plan()
    assert "KNNVectorDistance" in plan and "ANNSubIndex" not in plan
    cosines = embeddings.embed_array(texts) @ np.asarray(qvec)
    expected = [f"r{i}" for i in np.argsort(-cosines, kind="stable")[:10]]
    got = [row["id"] for row in index._vector_rows(qvec, 10, ["id"])]
    assert sorted(got) == sorted(expected)
