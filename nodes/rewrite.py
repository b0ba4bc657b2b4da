"""Rewrite: new query variants when nothing relevant came back (bounded by ``max_rewrites``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import State
from nodes.common import ModelReply, ask_model, llm_config, step, untrusted
from tools.llm.structured import invoke_structured
from tools.text.extractive import feedback_query
from tools.text.language import language_name

NODE = "rewrite_query"
MAX_VARIANTS = 3


class QueryRewrites(BaseModel):
    """Alternative search queries."""

    queries: list[str] = Field(description="Up to three alternative search queries")


async def rewrite_query(state: State, ctx: Context, services: Services) -> dict:
    """Replace ``queries`` with new variants; the next retrieval fuses them by reciprocal rank.

    With an LLM: one structured call for up to three variants (plus the original query).
    Offline or on failure: pseudo-relevance feedback, the query plus telling terms of the top
    documents retrieved so far.
    """
    query = state["retrieval_query"]
    docs = state.get("documents") or []
    rewrites = state.get("rewrites", 0) + 1
    llm = services.llm(ctx)
    if llm is None:
        prf = [feedback_query(" ".join(state.get("queries") or [query]), docs)]
        return {
            "queries": prf,
            "rewrites": rewrites,
            "path": step(NODE, f"rewrite {rewrites}", f"pseudo-relevance feedback: {prf[0][:120]}"),
        }
    tried = "\n".join(f"- {q}" for q in state.get("queries") or [query])
    system = ctx.prompt("rewrite", prompts.REWRITE).format(
        n=MAX_VARIANTS, language=language_name(state.get("corpus_language", "en"))
    )
    human = f"<question>{untrusted(query)}</question>\nTried:\n{untrusted(tried)}"
    messages = [("system", system), ("human", human)]
    reply = await ask_model(
        NODE,
        state,
        ctx,
        lambda: invoke_structured(llm, QueryRewrites, messages, config=llm_config(NODE)),
    )
    variants = [q.strip() for q in (reply.value.queries if reply.value else []) if q.strip()]
    if not variants:  # a provider failure, garbage, or an empty list: all fall back alike
        provider_failed = reply.failure is not None and reply.failure["kind"] != "unusable_output"
        failure = reply.failure or {"node": NODE, "kind": "unusable_output", "cause": "no queries"}
        why = ModelReply(failure=failure).why
        prf = [feedback_query(" ".join(state.get("queries") or [query]), docs)]
        return {
            "queries": prf,
            "rewrites": rewrites,
            "failures": [failure],
            "flags": reply.flags if provider_failed else ["rewrite_fallback"],
            "path": step(NODE, f"rewrite {rewrites}", f"{why}; pseudo-relevance feedback"),
        }
    queries = [*dict.fromkeys([*variants[:MAX_VARIANTS], query])]
    return {
        "queries": queries,
        "rewrites": rewrites,
        "path": step(NODE, f"rewrite {rewrites}", "; ".join(variants[:MAX_VARIANTS])[:200]),
    }
