"""Retrieval metrics over ranked paragraph ids (pure functions, unit-tested)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def dedupe(ids: Sequence[str]) -> list[str]:
    """Paragraph ids in first-seen order (several chunks of one paragraph count once)."""
    return list(dict.fromkeys(ids))


def first_gold_rank(ranked: Sequence[str], gold: Sequence[str]) -> int | None:
    """0-based rank of the first gold id in ``ranked``, or ``None``."""
    golds = set(gold)
    return next((i for i, pid in enumerate(ranked) if pid in golds), None)


def score_rankings(
    rankings: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]
) -> dict[str, float]:
    """R@1, R@5 and MRR@10 (any gold paragraph counts) and all-gold@5 (every gold in the top 5).

    ``rankings[i]`` is the ranked (deduplicated) paragraph ids returned for question ``i``.
    """
    if len(rankings) != len(golds) or not rankings:
        raise ValueError("need one ranking per question and at least one question")
    r1 = r5 = mrr = all5 = 0.0
    for ranked, gold in zip(rankings, golds, strict=True):
        rank = first_gold_rank(ranked, gold)
        if rank is not None:
            r1 += rank == 0
            r5 += rank < 5
            mrr += 1.0 / (rank + 1) if rank < 10 else 0.0
        all5 += set(gold) <= set(ranked[:5])
    n = len(rankings)
    return {"r1": r1 / n, "r5": r5 / n, "mrr10": mrr / n, "all_gold5": all5 / n}


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of per-query latencies, in milliseconds."""
    ms = np.asarray(seconds, dtype=float) * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}
