"""Reciprocal-rank fusion of the result lists of several query variants.

Kept as ten lines of our own: LangChain's only RRF is a method of ``EnsembleRetriever`` that
fuses retrievers' ``Document`` lists, dedupes by content and drops scores; here each document
must keep its best calibrated score, which the grader and the answer check read.
"""

from __future__ import annotations

from tools.index.search import Doc

RRF_K = 60


def fuse_rankings(rankings: list[list[Doc]], k: int) -> list[Doc]:
    """Reciprocal-rank fusion of several result lists; each document keeps its best score."""
    fused: dict[str, float] = {}
    best: dict[str, Doc] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking):
            fused[doc["id"]] = fused.get(doc["id"], 0.0) + 1.0 / (RRF_K + rank + 1)
            if doc["id"] not in best or doc["score"] > best[doc["id"]]["score"]:
                best[doc["id"]] = doc
    order = sorted(fused, key=lambda i: (-fused[i], -best[i]["score"]))
    return [best[i] for i in order[:k]]


def merge_by_score(rankings: list[list[Doc]], k: int) -> list[Doc]:
    """The union of several result lists, best calibrated score first (ties: earlier list).

    For searches of one question in two wordings (a doubtful translation and the question as
    written): calibrated scores are comparable across queries, so the better match leads,
    where rank fusion would reward a document for turning up in both lists.
    """
    best: dict[str, Doc] = {}
    for ranking in rankings:
        for doc in ranking:
            if doc["id"] not in best or doc["score"] > best[doc["id"]]["score"]:
                best[doc["id"]] = doc
    return sorted(best.values(), key=lambda d: -d["score"])[:k]
