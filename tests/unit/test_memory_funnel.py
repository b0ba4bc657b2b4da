"""The in-memory copy's vector search: the PCA funnel finds what exact search finds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

import tools.index.memory_copy as memory_copy
from tools.index.memory_copy import MemoryTable


def _table(vectors: np.ndarray) -> pa.Table:
    n, dims = vectors.shape
    return pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": [f"row {i}" for i in range(n)],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dims),
        }
    )


def _embedding_like(rng: np.random.Generator, n: int, dims: int = 128) -> np.ndarray:
    """Vectors with most of their variance in a few directions, as real embeddings have."""
    topics = rng.normal(size=(n, 24)) @ rng.normal(size=(24, dims))
    return (topics + 0.3 * rng.normal(size=(n, dims)) + 2.0).astype(np.float32)


def test_the_funnel_returns_the_exact_nearest_rows_and_their_exact_cosines(monkeypatch):
    rng = np.random.default_rng(3)
    vectors = _embedding_like(rng, 6_000)
    monkeypatch.setattr(memory_copy, "FUNNEL_MIN_ROWS", 1_000)
    monkeypatch.setattr(memory_copy, "FUNNEL_CANDIDATES", 300)
    funnel = MemoryTable(_table(vectors), (None, None))
    monkeypatch.setattr(memory_copy, "FUNNEL_MIN_ROWS", 10**9)
    exact = MemoryTable(_table(vectors), (None, None))
    assert funnel._funnel is not None and funnel._funnel[0].shape == (6_000, 64)
    assert exact._funnel is None
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.choice(6_000, 40, replace=False)] + rng.normal(size=(40, 128)) * 2
    same = 0
    for q in queries.astype(np.float32):
        top = funnel.nearest(q, 10)
        same += top == exact.nearest(q, 10)
        expected = np.argsort(-(unit @ (q / np.linalg.norm(q))), kind="stable")[:10]
        assert len(set(top) & set(expected.tolist())) >= 9
        assert np.allclose(funnel.cosines_at(q, top), unit[top] @ (q / np.linalg.norm(q)))
    assert same >= 36  # the same ten, in the same order, for nearly every query


def test_a_filter_searches_only_the_allowed_rows_exactly(monkeypatch):
    rng = np.random.default_rng(5)
    vectors = _embedding_like(rng, 3_000)
    monkeypatch.setattr(memory_copy, "FUNNEL_MIN_ROWS", 1_000)
    copy = MemoryTable(_table(vectors), (None, None))
    allowed = list(range(0, 3_000, 7))
    q = vectors[11] + 0.1
    top = copy.nearest(q, 5, allowed)
    cosines = copy.cosines_at(q, allowed)
    assert top == [allowed[i] for i in np.argsort(-cosines, kind="stable")[:5]]
    assert copy.nearest(q, 5, []) == [] and copy.cosines_at(q, []).shape == (0,)
