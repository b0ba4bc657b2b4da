"""Rewrite: new query variants when nothing relevant came back (bounded by ``max_rewrites``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import State
from nodes.common import (
    describe_error,
    failure_flags,
    llm_config,
    llm_deadline,
    provider_errors,
    step,
    untrusted,
)
from nodes.offline import feedback_query
from tools.language import language_name

NODE = "rewrite_query"
MAX_VARIANTS = 3


class QueryRewrites(BaseModel):
    """Alternative search queries."""

    queries: list[str] = Field(description="Up to three alternative search queries")


def rewrite_query(state: State, ctx: Context, services: Services) -> dict:
    """Replace ``queries`` with new variants; the next retrieval fuses them by reciprocal rank.

    With an LLM: one structured call for up to three variants (plus the original query).
    Offline or on failure: pseudo-relevance feedback, the query plus telling terms of the top
    documents retrieved so far.
    """
    query = state["retrieval_query"]
    docs = state.get("documents") or []
    rewrites = state.get("rewrites", 0) + 1
    llm = services.llm(ctx)
    prf = [feedback_query(" ".join(state.get("queries") or [query]), docs)]
    if llm is None:
        return {
            "queries": prf,
            "rewrites": rewrites,
            "path": step(NODE, f"rewrite {rewrites}", f"pseudo-relevance feedback: {prf[0][:120]}"),
        }
    from tools.structured import invoke_structured

    tried = "\n".join(f"- {q}" for q in state.get("queries") or [query])
    system = ctx.prompt("rewrite", prompts.REWRITE).format(
        n=MAX_VARIANTS, language=language_name(state.get("corpus_language", "en"))
    )
    human = f"<question>{untrusted(query)}</question>\nTried:\n{untrusted(tried)}"
    messages = [("system", system), ("human", human)]
    try:
        with llm_deadline(state, ctx):
            result = invoke_structured(llm, QueryRewrites, messages, config=llm_config(NODE))
    except provider_errors() as exc:
        return {
            "queries": prf,
            "rewrites": rewrites,
            "flags": failure_flags(exc, state, ctx),
            "path": step(
                NODE,
                f"rewrite {rewrites}",
                f"LLM failed ({describe_error(exc)}); pseudo-relevance feedback",
            ),
        }
    variants = [q.strip() for q in (result.value.queries if result.ok else []) if q.strip()]  # type: ignore[union-attr]
    if not variants:
        return {
            "queries": prf,
            "rewrites": rewrites,
            "flags": ["rewrite_fallback"],
            "path": step(
                NODE, f"rewrite {rewrites}", "unusable rewrite output; pseudo-relevance feedback"
            ),
        }
    queries = [*dict.fromkeys([*variants[:MAX_VARIANTS], query])]
    return {
        "queries": queries,
        "rewrites": rewrites,
        "path": step(NODE, f"rewrite {rewrites}", "; ".join(variants[:MAX_VARIANTS])[:200]),
    }
