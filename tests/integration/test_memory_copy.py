"""Large tables are searched from an in-memory copy built in the background (real LanceDB).

The limits of :mod:`tools.index.memory_copy` are lowered so that a 40-row table counts as
"large": the copy must give the results LanceDB gives, never serve rows a write has changed,
and leave a table too big to hold in LanceDB.
"""

from __future__ import annotations

import threading

import pytest
from langchain_core.documents import Document

import tools.index.memory_copy as memory_copy
from tools.index.lance import LanceIndex

QUERIES = ["wool to port 7", "Which harbour exports timber?", "grain 12", "lighthouse"]


@pytest.fixture
def large(monkeypatch):
    """Tables of 10 rows and more count as large (built in the background)."""
    monkeypatch.setattr(memory_copy, "SMALL_TABLE_ROWS", 10)
    monkeypatch.setattr(memory_copy, "MEMORY_TABLE_ROWS", 1_000)


def _harbours(tmp_path, embeddings, rows: int = 40) -> LanceIndex:
    index = LanceIndex.open(tmp_path / "data", embeddings, create=True)
    texts = [f"Harbour {i} exports grain, timber and wool to port {i}." for i in range(rows)]
    index.add_documents(
        [Document(t, metadata={"source": f"/h{i}.md"}) for i, t in enumerate(texts)],
        ids=[f"h{i}" for i in range(rows)],
    )
    index.refresh_fts()
    return index


def _results(index: LanceIndex) -> list[list[tuple[str, dict]]]:
    return [[(d.id, d.metadata) for d in index.hybrid_search(q, k=5)] for q in QUERIES]


def test_a_large_table_is_searched_through_lancedb_until_its_copy_is_built(
    tmp_path, embeddings, large
):
    index = _harbours(tmp_path, embeddings)
    release = threading.Event()
    read = index._read_for_memory
    index._read_for_memory = lambda: release.wait(10) and read()
    through_lancedb = _results(index)  # the first search starts the build; it waits
    assert index._memory.current is None
    release.set()
    assert index.warm(timeout=30) is True
    copy = index._memory.current
    assert copy is not None and copy.bm25 is not None and len(copy.vectors) == 40
    # Same ids, ranks and scores as LanceDB's FTS and vector search on this table.
    assert _results(index) == through_lancedb


def test_a_write_during_the_build_discards_it_and_new_rows_show_at_once(
    tmp_path, embeddings, large
):
    index = _harbours(tmp_path, embeddings)
    started, release = threading.Event(), threading.Event()
    read = index._read_for_memory

    def slow_read():
        started.set()
        release.wait(10)
        return read()

    index._read_for_memory = slow_read
    index.hybrid_search("timber", k=3)
    assert started.wait(10)
    index.add_documents(
        [Document("Lighthouse keeper's logbook.", metadata={"source": "/l.md"})], ids=["l1"]
    )
    index.delete(["h7"])
    index.refresh_fts()
    release.set()
    index._memory.wait(30)
    assert index._memory.current is None  # built from the table before the write: dropped
    assert index.hybrid_search("lighthouse logbook", k=1)[0].id == "l1"
    index._read_for_memory = read
    assert index.warm(timeout=30) is True  # a fresh build, of the table after the write
    assert "l1" in index._memory.current.position and "h7" not in index._memory.current.position
    assert index.hybrid_search("lighthouse logbook", k=1)[0].id == "l1"
    assert "h7" not in {d.id for d in index.hybrid_search("wool to port 7", k=41)}


def test_a_table_too_big_to_hold_stays_in_lancedb_and_is_not_read_again(
    tmp_path, embeddings, large, monkeypatch
):
    monkeypatch.setattr(memory_copy, "BACKGROUND_MEMORY_CHARS", 100)  # 40 rows: ~2,000 chars
    index = _harbours(tmp_path, embeddings)
    reads = []
    read = index._read_for_memory
    index._read_for_memory = lambda: reads.append(1) or read()
    assert index.warm(timeout=30) is False
    for query in QUERIES:
        assert index.hybrid_search(query, k=3)
    index._memory.wait(30)
    assert index._memory.current is None and len(reads) == 1


def test_a_failed_build_leaves_searches_in_lancedb_until_the_next_write(
    tmp_path, embeddings, large
):
    index = _harbours(tmp_path, embeddings)
    reads = []
    read = index._read_for_memory

    def broken_read():
        reads.append(1)
        raise OSError("disk read error")

    index._read_for_memory = broken_read
    assert index.warm(timeout=30) is False
    for query in QUERIES:
        assert index.hybrid_search(query, k=3)
    index._memory.wait(30)
    assert len(reads) == 1  # not tried again on every search
    index._read_for_memory = read
    index.add_documents([Document("Lighthouse keeper's logbook.")], ids=["l1"])
    assert index.warm(timeout=30) is True  # the write gave it another try


def test_a_small_table_with_long_texts_gets_its_bm25_postings_in_the_background(
    tmp_path, embeddings, monkeypatch
):
    monkeypatch.setattr(memory_copy, "MEMORY_BM25_CHARS", 100)
    index = _harbours(tmp_path, embeddings, rows=5)
    assert index.hybrid_search("timber", k=1)  # copied now; BM25 through LanceDB for now
    assert index._memory.current is not None
    assert index.warm(timeout=30) is True
    assert index._memory.current.bm25 is not None
    assert index.hybrid_search("wool to port 3", k=1)[0].id == "h3"
