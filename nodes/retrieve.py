"""Retrieve: hybrid BM25 + vector search over one or more query variants."""

from __future__ import annotations

import asyncio

from graph.config import Context
from graph.services import Services
from graph.state import State
from nodes.common import filtered, lexical_fallback, step
from tools.index.base import IndexError_
from tools.index.filters import FilterError
from tools.index.fusion import fuse_rankings
from tools.index.search import search

NODE = "retrieve_documents"


async def retrieve_documents(state: State, ctx: Context, services: Services) -> dict:
    """Search every query variant (k each) and fuse them; the first retrieval reuses the probe.

    ``probe_corpus`` already searched this turn's queries (the translation, and the question as
    written when the translation was doubtful), so the first retrieval costs nothing extra.
    Searches run in worker threads: the index reads files and scores on the CPU, which must
    not block the event loop.
    """
    queries = state.get("queries") or [state["retrieval_query"]]
    docs = state.get("documents") or []
    if state.get("rewrites", 0) == 0 and docs:  # the probe searched these very queries
        return {"path": step(NODE, f"{len(docs)} documents", "reused the corpus probe's results")}
    index, error = await asyncio.to_thread(services.try_index, ctx)
    try:
        if index is None:
            raise IndexError_(error or "index unavailable")
        where = ctx.doc_filter()
        rankings = await asyncio.gather(
            *(
                asyncio.to_thread(search, index, q, ctx.k, multihop=ctx.multihop, filters=where)
                for q in queries
            )
        )
    except (IndexError_, FilterError) as exc:
        return {
            "documents": [],
            "relevant_ids": [],
            "index_error": str(exc),
            "flags": ["index_unavailable"],
            "failures": [{"node": NODE, "kind": "index", "cause": str(exc)}],
            "path": step(NODE, "0 documents", str(exc)),
        }
    docs = fuse_rankings(list(rankings), ctx.k)
    top = f"top score {docs[0]['score']:.2f}" if docs else "no hits"
    reason = f"{len(queries)} query variant(s), {top}{filtered(where)}"
    return lexical_fallback(NODE, docs) | {
        "documents": docs,
        "relevant_ids": [],
        "path": step(NODE, f"{len(docs)} documents", reason),
    }
