"""The positions of the k largest values of a long score array, without a full partition.

``np.argpartition`` over 100k scores cost ~0.8-1.0 ms on this project's 2-core machine, a
seventh of a whole hybrid query at that size, to keep a few hundred. A strided sample gives a
cut that at least ``k`` values reach; the partition then runs over the values at or above it
(about ``2k + 8 * SAMPLE_STRIDE`` of them): ~0.05 ms. Ties at the k-th value go to the lower
positions, as the callers' orderings break them (a full partition breaks them arbitrarily).
"""

from __future__ import annotations

import numpy as np

SAMPLE_STRIDE = 64
# Below this many values, or when k is not much smaller, one argpartition is as fast.
MIN_VALUES = 8_192


def largest(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest ``values``, in no particular order.

    Of several values equal to the k-th largest, the lowest positions are kept, so the set
    does not depend on how the partition happened to run (``np.argpartition`` leaves that
    unspecified). ``k`` at or above ``len(values)`` gives every position.
    """
    n = len(values)
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    if k >= n:
        return np.arange(n)
    pool = None
    if n >= MIN_VALUES and k * 8 < n:
        sample = values[::SAMPLE_STRIDE]
        # The sample's (2k/stride + 8)-th largest: about 2k + 8 * stride values reach it,
        # so fewer than k do only by a freak of the data, and then every value is searched.
        rank = len(sample) - 1 - min(len(sample) - 1, 2 * k // SAMPLE_STRIDE + 8)
        cut = np.partition(sample, rank)[rank]
        survivors = np.flatnonzero(values >= cut)
        if len(survivors) >= k:
            pool = survivors
    scores = values if pool is None else values[pool]
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    above, tied = np.flatnonzero(scores > kth), np.flatnonzero(scores == kth)
    chosen = np.concatenate([above, tied[: k - len(above)]])
    if len(chosen) < k:  # NaN among the values: no order to keep
        return np.argpartition(-values, k - 1)[:k]
    return chosen if pool is None else pool[chosen]
