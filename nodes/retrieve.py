"""Retrieve: hybrid BM25 + vector search over one or more query variants.

With ``ctx.followup_search`` and a model, the first retrieval of a turn takes one bounded
IRCoT-style hop: the model reads the top document and may name the entity a bridge question
needs next ("Who directed Film X?" -> the director's page); that query is searched once and its
best new document takes the second slot. One model call and one search at most per turn.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import State
from nodes.common import (
    ask_model,
    filtered,
    lexical_fallback,
    llm_config,
    number_documents,
    step,
    untrusted,
)
from tools.index.base import IndexError_
from tools.index.filters import FilterError
from tools.index.fusion import fuse_rankings
from tools.index.search import Doc, search
from tools.llm.structured import invoke_structured
from tools.text.language import language_name

NODE = "retrieve_documents"
FOLLOWUP_NODE = "follow_up_search"  # the model call's name in traces and scripted tests
FOLLOWUP_RESERVED = 1  # documents the follow-up search may add (after the top hit)
MAX_FOLLOWUP_CHARS = 200


class FollowUp(BaseModel):
    """The second search a multi-step question needs, if any."""

    query: str = Field(
        description="A short search query naming the entity and the fact needed; empty if none"
    )


def _search_all(queries: list[str], ctx: Context, services: Services):
    """Open the index and search each query (in the calling worker thread, one after another).

    Returns the index, the metadata filter and one ranking per query. Raises ``IndexError_``
    or ``FilterError``.
    """
    index = services.require_index(ctx)
    where = ctx.doc_filter()
    return (
        index,
        where,
        [search(index, q, ctx.k, multihop=ctx.multihop, filters=where) for q in queries],
    )


async def retrieve_documents(state: State, ctx: Context, services: Services) -> dict:
    """Search every query variant (k each) and fuse them; the first retrieval reuses the probe.

    ``probe_corpus`` already searched this turn's queries (the translation, and the question as
    written when the translation was doubtful), so the first retrieval costs nothing extra,
    unless the follow-up search (module docstring) is on.
    Opening and searching run in one worker thread: the index reads files and scores on the
    CPU, which must not block the event loop, and each thread hop costs time of its own.
    """
    queries = state.get("queries") or [state["retrieval_query"]]
    docs = state.get("documents") or []
    if state.get("rewrites", 0) == 0 and docs:  # the probe searched these very queries
        reused = step(NODE, f"{len(docs)} documents", "reused the corpus probe's results")
        return await _follow_up(state, ctx, services, None, docs, {"path": [reused]})
    try:
        index, where, rankings = await asyncio.to_thread(_search_all, queries, ctx, services)
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
    update = lexical_fallback(NODE, docs) | {
        "documents": docs,
        "relevant_ids": [],
        "path": [step(NODE, f"{len(docs)} documents", reason)],
    }
    if state.get("rewrites", 0) == 0 and docs:
        return await _follow_up(state, ctx, services, index, docs, update)
    return update


async def _follow_up(
    state: State, ctx: Context, services: Services, index, docs: list[Doc], update: dict
) -> dict:
    """``update`` plus the follow-up hop, when it is on, a model is configured and it asks.

    ``index`` is opened here when the caller has none yet (the probe's results were reused).
    A provider failure or unusable output leaves the documents as they were (the failure is
    recorded, the turn goes on); so does an empty query, one that repeats the search, or one
    whose best new document scores under ``probe_weak``.
    """
    llm = services.llm(ctx) if ctx.followup_search else None
    if llm is None:
        return update
    if index is None:
        index, _ = await asyncio.to_thread(services.try_index, ctx)
        if index is None:
            return update
    query = state["retrieval_query"]
    system = ctx.prompt("followup", prompts.FOLLOWUP).format(
        language=language_name(state.get("corpus_language", "en"))
    )
    human = f"<question>{untrusted(query)}</question>\n{number_documents(docs[:1])}"
    messages = [("system", system), ("human", human)]
    reply = await ask_model(
        FOLLOWUP_NODE,
        state,
        ctx,
        lambda: invoke_structured(llm, FollowUp, messages, config=llm_config(FOLLOWUP_NODE)),
    )
    path = list(update["path"])
    if reply.value is None:
        failure = reply.failure or {"node": FOLLOWUP_NODE, "kind": "unusable_output"}
        path.append(step(NODE, "no follow-up", f"{reply.why}; first search kept"))
        return update | {
            "path": path,
            "failures": [*update.get("failures", []), failure],
            "flags": [*update.get("flags", []), *reply.flags],
        }
    follow = " ".join(reply.value.query.split())[:MAX_FOLLOWUP_CHARS]
    if not follow or follow.casefold() == query.strip().casefold():
        none = step(NODE, "no follow-up", "the model asked for no other search")
        return update | {"path": [*path, none]}
    try:
        where = ctx.doc_filter()
        second = await asyncio.to_thread(search, index, follow, ctx.k, filters=where)
    except (IndexError_, FilterError) as exc:
        return update | {"path": [*path, step(NODE, "no follow-up", str(exc))]}
    have = {d["id"] for d in docs}
    # Only a match: a weak model's query (SmolLM2 echoed a phrase of the top hit) would
    # otherwise push an unrelated document into the second slot.
    new = [d for d in second if d["id"] not in have]
    extra = [d for d in new if d["score"] >= ctx.probe_weak][:FOLLOWUP_RESERVED]
    merged = [*docs[:1], *extra, *docs[1:]][: max(ctx.k, len(docs))]
    # Titles, not chunk ids: an id may hold the server's path to the file.
    added = ", ".join(d["title"] or d.get("display", "") for d in extra) or (
        f"nothing new scored {ctx.probe_weak:.2f} or more"
    )
    return update | {
        "documents": merged,
        "relevant_ids": [],
        "path": [*path, step(NODE, f"follow-up: +{len(extra)}", f"searched {follow!r}: {added}")],
    }
