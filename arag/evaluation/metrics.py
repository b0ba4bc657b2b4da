"""Answer and retrieval metrics: pure functions, shared by ``arag eval`` and the benchmarks.

Answer metrics are the official SQuAD v1.1 ones (normalise: lower-case, drop punctuation,
articles and extra whitespace; exact match; token-overlap F1, best over the references).

Retrieval metrics compare a ranked list of passage ids (the ``source`` of the retrieved chunks,
best first) with the gold passage ids of the question:

* :func:`recall_at_k`: the share of the gold passages in the top ``k`` (a multi-hop question
  with half its gold found scores 0.5); ``arag eval``'s ``recall_at_k``;
* :func:`hit_at_k`: 1 when any gold passage is in the top ``k``; the benchmarks' R@k;
* :func:`all_gold_at_k`: 1 when every gold passage is in the top ``k``; HotpotQA's all-gold@5;
* :func:`reciprocal_rank`: 1 / rank of the first gold passage, optionally counted only within
  the top ``k`` (MRR@10).

:func:`score_rankings` averages them over a question set as the benchmarks report them;
:func:`latency_ms` gives the latency percentiles next to them.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_CITATION = re.compile(r"\[\d+\]")

# ----------------------------------------------------------------------------- answers


def normalize_answer(text: str) -> str:
    """SQuAD normalisation; citation markers ``[n]`` are removed first."""
    text = _CITATION.sub(" ", text).lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: list[str]) -> float:
    """1.0 when the normalised prediction equals a normalised reference."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(a) for a in answers))


def token_f1(prediction: str, answers: list[str]) -> float:
    """Best token-overlap F1 of the prediction against the references (SQuAD metric)."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for answer in answers:
        gold = normalize_answer(answer).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if not pred or not gold or common == 0:
            best = max(best, float(pred == gold))
            continue
        precision, recall = common / len(pred), common / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def answer_recall(prediction: str, answers: list[str]) -> float:
    """1.0 when a normalised reference occurs inside the normalised prediction.

    Extractive answers are whole sentences, so EM is near zero for them by construction; this
    "contains the answer" score is what tells a user whether the answer was found.
    """
    pred = f" {normalize_answer(prediction)} "
    return float(any(f" {normalize_answer(a)} " in pred for a in answers if normalize_answer(a)))


# ----------------------------------------------------------------------------- retrieval


def dedupe(ids: Iterable[str]) -> list[str]:
    """Passage ids in first-seen order (several chunks of one passage count once)."""
    return list(dict.fromkeys(ids))


def first_gold_rank(ranked: Sequence[str], gold: Iterable[str]) -> int | None:
    """0-based rank of the first gold id in ``ranked``, or ``None``."""
    golds = set(gold)
    return next((i for i, pid in enumerate(ranked) if pid in golds), None)


def recall_at_k(retrieved: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of the gold passages among the first ``k`` retrieved sources (0.0 without gold)."""
    if not gold:
        return 0.0
    top = set(retrieved[:k])
    return sum(g in top for g in gold) / len(gold)


def hit_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """1.0 when any gold passage is among the first ``k`` ranked ids."""
    rank = first_gold_rank(ranked, gold)
    return float(rank is not None and rank < k)


def all_gold_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """1.0 when every gold passage is among the first ``k`` ranked ids (multi-hop questions)."""
    return float(set(gold) <= set(ranked[:k]))


def reciprocal_rank(retrieved: Sequence[str], gold: Iterable[str], k: int | None = None) -> float:
    """1 / rank of the first gold passage (0 when absent, or ranked below ``k`` if given)."""
    rank = first_gold_rank(retrieved, gold)
    if rank is None or (k is not None and rank >= k):
        return 0.0
    return 1.0 / (rank + 1)


def score_rankings(
    rankings: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]
) -> dict[str, float]:
    """R@1, R@5 and MRR@10 (any gold paragraph counts) and all-gold@5 (every gold in the top 5).

    ``rankings[i]`` is the ranked (deduplicated) paragraph ids returned for question ``i``.
    """
    if len(rankings) != len(golds) or not rankings:
        raise ValueError("need one ranking per question and at least one question")
    pairs = list(zip(rankings, golds, strict=True))
    n = len(pairs)
    return {
        "r1": sum(hit_at_k(r, g, 1) for r, g in pairs) / n,
        "r5": sum(hit_at_k(r, g, 5) for r, g in pairs) / n,
        "mrr10": sum(reciprocal_rank(r, g, 10) for r, g in pairs) / n,
        "all_gold5": sum(all_gold_at_k(r, g, 5) for r, g in pairs) / n,
    }


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of per-query latencies given in seconds, in milliseconds."""
    ms = np.asarray(seconds, dtype=float) * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}
