"""Respond: append the answer as an AI message with numbered sources, and finalize flags."""

from __future__ import annotations

from langchain_core.messages import AIMessage

from graph.config import Context
from graph.services import Services
from graph.state import Citation, State
from nodes.common import relevant_documents, step
from nodes.offline import OFFLINE_NOTICE, cited_numbers
from tools.language import language_name

NODE = "respond"


def citations_for(answer: str, state: State) -> list[Citation]:
    """Map each ``[n]`` in ``answer`` to the n-th relevant document."""
    docs = relevant_documents(state)
    return [
        {
            "n": n,
            "id": docs[n - 1]["id"],
            "title": docs[n - 1]["title"],
            "source": docs[n - 1]["source"],
        }
        for n in sorted(cited_numbers(answer))
        if 1 <= n <= len(docs)
    ]


def footnotes(citations: list[Citation]) -> str:
    """``Sources:`` block for chat UIs: one line per citation with title and source."""
    if not citations:
        return ""
    lines = [f"[{c['n']}] {c['title'] or c['id']} — {c['source']}" for c in citations]
    return "\n\nSources:\n" + "\n".join(lines)


def degradation_notes(state: State, ctx: Context) -> list[str]:
    """What went wrong on the way, in words: a cut question, LLM failures, the deadline, the index.

    Each fallback leaves a flag (``llm_error``, ``deadline_exceeded``, ``index_unavailable``,
    ``grading_fallback``, ...) and a path step with the reason; this turns them into the notes
    a chat user reads under the answer, so a degraded answer never looks like a normal one.
    """
    flags = set(state.get("flags") or [])
    steps = state.get("path") or []
    notes: list[str] = []
    if "question_truncated" in flags:
        notes.append(
            f"your question was longer than {ctx.max_question_chars:,} characters; only its "
            "beginning was used"
        )
    if "index_unavailable" in flags and state.get("route") != "error":  # else the answer says it
        reason = next(
            (
                s["reason"]
                for s in steps
                if s["node"] in ("probe_corpus", "retrieve_documents")
                and s["decision"] in ("unavailable", "0 documents")
            ),
            "the index could not be opened",
        )
        notes.append(
            f"the document index is unavailable ({reason.rstrip('.')}); answered "
            "without the documents"
        )
    if "deadline_exceeded" in flags:
        notes.append(
            f"the request deadline ({ctx.request_deadline:g} s) was reached; the remaining "
            "steps ran without the language model"
        )
    elif "llm_error" in flags:
        prefix = "LLM failed ("
        failure = next((s["reason"] for s in steps if s["reason"].startswith(prefix)), "")
        cause = failure[len(prefix) :].partition("); ")[0] or "an error"
        notes.append(
            f"the language model failed ({cause}) after its retries; the affected steps used "
            "the offline fallback"
        )
    elif flags & {"grading_fallback", "check_fallback", "rewrite_fallback"}:
        notes.append("the model's structured output was unusable; offline checks were used")
    return notes


def respond(state: State, ctx: Context, services: Services) -> dict:
    """Finalize: flags from the last check, the offline notice, and the chat message."""
    answer = state.get("answer") or ""
    route = state.get("route") or "retrieval"
    check = state.get("check") or {}
    flags: list[str] = []
    if check and not check.get("grounded", True):
        flags.append("not_grounded")
    if check and not check.get("useful", True):
        flags.append("not_useful")
    offline = services.llm(ctx) is None
    citations = citations_for(answer, state) if route in ("retrieval", "web") else []
    notes: list[str] = []
    if offline:
        notes.append(OFFLINE_NOTICE)
        if state.get("user_language") and state.get("user_language") != state.get(
            "corpus_language"
        ):
            notes.append(
                f"translation needs an LLM: the question was searched as written and sources "
                f"are quoted in {language_name(state.get('corpus_language', 'en'))}"
            )
    if "not_grounded" in flags:
        notes.append("warning: this answer could not be fully verified against its sources")
    if "unverified_closed_book" in (state.get("flags") or []):
        notes.append("answered from the model's own knowledge; no document confirms it")
    web_failure = next(
        (
            s["reason"]
            for s in state.get("path") or []
            if s["node"] == "web_search" and s["decision"] == "unavailable"
        ),
        None,
    )
    if web_failure:
        notes.append(f"{web_failure.rstrip('.')}; answered without it")
    notes += degradation_notes(state, ctx)
    text = answer + footnotes(citations) + "".join(f"\n\nNote: {n}." for n in notes)
    mode = "offline" if offline else "llm"
    message = AIMessage(
        content=text,
        name="arag",
        additional_kwargs={"citations": citations, "route": route, "mode": mode},
    )
    reason = f"{len(citations)} citation(s)" + (f", flags: {', '.join(flags)}" if flags else "")
    return {
        "messages": [message],
        "answer": answer,
        "citations": citations,
        "route": route,
        "mode": mode,
        "flags": flags,
        "path": step(NODE, route, reason),
    }
