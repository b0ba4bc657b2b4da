"""Retrieve: hybrid BM25 + vector search over one or more query variants."""

from __future__ import annotations

from graph.config import Context
from graph.services import Services
from graph.state import Doc, State
from nodes.common import step
from nodes.confidence import search
from tools.index.base import IndexError_

NODE = "retrieve_documents"
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


def retrieve_documents(state: State, ctx: Context, services: Services) -> dict:
    """Search every query variant (k each) and fuse them; reuse the corpus probe when it matches.

    The confidence check already ran this exact search for the first query, so the first
    retrieval of a turn costs nothing extra.
    """
    queries = state.get("queries") or [state["retrieval_query"]]
    docs = state.get("documents") or []
    if state.get("rewrites", 0) == 0 and queries == [state["retrieval_query"]] and docs:
        return {"path": step(NODE, f"{len(docs)} documents", "reused the corpus probe's results")}
    index, error = services.try_index(ctx)
    if index is None:
        return {
            "documents": [],
            "relevant_ids": [],
            "flags": ["index_unavailable"],
            "path": step(NODE, "0 documents", error or "index unavailable"),
        }
    try:
        rankings = [search(index, q, ctx.k, multihop=ctx.multihop) for q in queries]
        docs = fuse_rankings(rankings, ctx.k)
    except IndexError_ as exc:
        error = str(exc)
        return {
            "documents": [],
            "relevant_ids": [],
            "flags": ["index_unavailable"],
            "path": step(NODE, "0 documents", error),
        }
    top = f"top score {docs[0]['score']:.2f}" if docs else "no hits"
    return {
        "documents": docs,
        "relevant_ids": [],
        "path": step(NODE, f"{len(docs)} documents", f"{len(queries)} query variant(s), {top}"),
    }
