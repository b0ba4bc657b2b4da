"""``largest``: the k best positions of a long score array, as a full argpartition finds them."""

from __future__ import annotations

import numpy as np
import pytest

from tools.index.bm25 import TermBm25
from tools.index.topk import SAMPLE_STRIDE, largest


def _reference(values: np.ndarray, k: int) -> set[int]:
    return set(np.argpartition(-values, k - 1)[:k].tolist())


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 20, 500, 2_000])
def test_the_same_positions_as_a_full_partition(seed, k):
    values = np.random.default_rng(seed).normal(size=100_000).astype(np.float32)
    assert set(largest(values, k).tolist()) == _reference(values, k)


def test_when_the_sample_misses_the_best_values_the_full_partition_still_finds_them():
    # The best values sit only where the sample looks: the cut it gives admits too few.
    values = np.zeros(50_000, dtype=np.float32)
    values[::SAMPLE_STRIDE] = np.arange(len(values[::SAMPLE_STRIDE]), dtype=np.float32) + 1
    values[1::SAMPLE_STRIDE] = 0.5
    got = largest(values, 1_000)
    assert len(set(got.tolist())) == 1_000
    assert set(range(0, 50_000, SAMPLE_STRIDE)) <= set(got.tolist())  # all 782 best ones
    # and the rest from the next best, the lowest positions first
    assert set(got.tolist()) - set(range(0, 50_000, SAMPLE_STRIDE)) == set(
        range(1, 50_000, SAMPLE_STRIDE)[: 1_000 - 782]
    )


@pytest.mark.parametrize("n", [3_000, 30_000])  # one partition, and the sampled cut
def test_of_values_tied_at_the_cut_the_lowest_positions_are_kept(n):
    values = np.zeros(n, dtype=np.float32)
    values[n - 5 :] = 2.0  # the five best, at the end
    values[1_000:2_000] = 1.0  # 1,000 tied for sixth
    got = largest(values, 300)
    assert sorted(got.tolist()) == list(range(1_000, 1_295)) + list(range(n - 5, n))


def test_short_arrays_and_edge_values_of_k():
    values = np.array([0.3, 0.9, 0.1], dtype=np.float32)
    assert sorted(largest(values, 5).tolist()) == [0, 1, 2]
    assert largest(values, 0).tolist() == []
    assert largest(values, 1).tolist() == [1]


def test_bm25_returns_only_positive_scores_best_first_when_few_documents_match():
    docs = [["alpha"]] + [["beta", "gamma"]] * 20_000 + [["alpha", "alpha"]]
    hits = TermBm25(docs).search(["alpha"], 10)
    assert [pos for pos, _ in hits] == [20_001, 0]
    assert all(score > 0 for _, score in hits)
