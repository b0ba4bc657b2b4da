"""Routing functions: each returns the next node's name and raises on a state it does not expect.

Every loop is bounded by a counter in the state (``rewrites`` by ``max_rewrites``, ``generations``
by ``max_generations``), so a run always ends at ``respond`` with the best answer it has, never at
the recursion limit.
"""

from __future__ import annotations

from typing import Literal

from graph.config import Context
from graph.state import State
from tools.text.language import needs_translation


class UnknownRouteError(RuntimeError):
    """A routing function met a decision it does not know: a bug, not a user error."""


def after_condense(
    state: State,
) -> Literal["respond"] | list[Literal["translate_question", "probe_corpus"]]:
    """Empty or invalid questions go straight to the reply.

    A question already in the corpus language (which ``condense_question`` read off the index)
    is probed concurrently with ``translate_question`` (which then has nothing to translate);
    any other question is probed after its translation.
    """
    if state.get("route") == "invalid_input":
        return "respond"
    if needs_translation(state["question"], state.get("corpus_language") or "en"):
        return ["translate_question"]
    return ["translate_question", "probe_corpus"]


def after_translation(state: State) -> Literal["probe_corpus", "check_confidence"]:
    """Probe with the translation; a same-language question was already probed in this step."""
    same = state.get("user_language") == state.get("corpus_language")
    return "check_confidence" if same else "probe_corpus"


def after_confidence(
    state: State,
) -> Literal["retrieve_documents", "summarize_documents", "web_search", "respond"]:
    """Follow the confidence check's decision."""
    decision = (state.get("confidence") or {}).get("decision")
    match decision:
        case "retrieve":
            return "retrieve_documents"
        case "summarize":
            return "summarize_documents"
        case "web":
            return "web_search"
        case "closed_book" | "error":
            return "respond"
    raise UnknownRouteError(f"unknown confidence decision {decision!r}")


def after_grading(
    state: State, ctx: Context
) -> Literal["generate_answer", "rewrite_query", "web_search", "respond"]:
    """Relevant documents → answer; none → rewrite, then web, then an honest "insufficient"."""
    if state.get("answer") and state.get("generations", 0) >= ctx.max_generations:
        return "respond"  # a not-useful answer sent us back here, and no draft is left
    if state.get("relevant_ids"):
        return "generate_answer"
    if state.get("rewrites", 0) < ctx.max_rewrites:
        return "rewrite_query"
    if not state.get("web_searched"):
        return "web_search"
    return "generate_answer"


def after_generation(state: State) -> Literal["check_answer", "respond"]:
    """Check drafts written from documents; "insufficient" and closed-book replies need none."""
    return "check_answer" if state.get("route") in ("retrieval", "web") else "respond"


def after_check(
    state: State, ctx: Context
) -> Literal["respond", "generate_answer", "rewrite_query"]:
    """Grounded and useful → reply. Not grounded → regenerate; not useful → rewrite; in budget.

    A draft whose first sentences were already streamed (they verified against their sources)
    goes to ``respond`` whatever the verdict: the verdict sets its flags there.
    """
    check = state.get("check") or {}
    if "grounded" not in check:
        raise UnknownRouteError("check_answer left no verdict")
    if state.get("released"):
        return "respond"  # sentences of this draft are on screen: no other draft replaces them
    if not check["grounded"]:
        return "generate_answer" if state.get("generations", 0) < ctx.max_generations else "respond"
    if not check.get("useful", True):
        can_rewrite = state.get("rewrites", 0) < ctx.max_rewrites
        can_draft = state.get("generations", 0) < ctx.max_generations
        return "rewrite_query" if can_rewrite and can_draft else "respond"
    return "respond"
