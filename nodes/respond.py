"""Respond: append the answer as an AI message with numbered sources, and finalize flags."""

from __future__ import annotations

import asyncio
import logging

from langchain_core.messages import AIMessage

from graph.config import Context
from graph.services import Services
from graph.state import Citation, FailureKind, State
from nodes.citations import renumber, sources
from nodes.common import relevant_documents, show_in_chat, step
from tools.text.extractive import OFFLINE_NOTICE, cited_numbers, extractive_answer
from tools.text.language import insufficient_message, language_name

NODE = "respond"
log = logging.getLogger("arag")


def _where(citation: Citation) -> str:
    """``guide.pdf, p. 2, 5`` or ``README.md, Install > Debian``: the source and its place."""
    where = citation["source"]
    if citation.get("pages"):
        label = "p." if len(citation["pages"]) == 1 else "pp."
        where += f", {label} {', '.join(map(str, citation['pages']))}"
    elif citation.get("section") and citation["section"] != citation["title"]:
        where += f", {citation['section']}"  # the top heading is usually the title: not twice
    return where


def footnotes(citations: list[Citation]) -> str:
    """``Sources:`` block for chat UIs: one line per citation with title and source."""
    if not citations:
        return ""
    lines = [f"[{c['n']}] {c['title'] or c['id']} — {_where(c)}" for c in citations]
    return "\n\nSources:\n" + "\n".join(lines)


def _first_cause(state: State, kind: FailureKind) -> str:
    """The cause of the turn's first failure of ``kind`` (empty when there was none)."""
    return next((f["cause"] for f in state.get("failures") or [] if f["kind"] == kind), "")


def degradation_notes(state: State, ctx: Context) -> list[str]:
    """What went wrong on the way, in words: a cut question, LLM failures, the deadline, the index.

    Each fallback leaves a flag (``llm_error``, ``deadline_exceeded``, ``index_unavailable``,
    ``grading_fallback``, ...) and a typed failure record; this turns them into the notes
    a chat user reads under the answer, so a degraded answer never looks like a normal one.
    """
    flags = set(state.get("flags") or [])
    notes: list[str] = []
    if "question_truncated" in flags:
        notes.append(
            f"your question was longer than {ctx.max_question_chars:,} characters; only its "
            "beginning was used"
        )
    if "index_unavailable" in flags and state.get("route") != "error":  # else the answer says it
        reason = _first_cause(state, "index") or "the index could not be opened"
        notes.append(
            f"the document index is unavailable ({reason.rstrip('.')}); answered "
            "without the documents"
        )
    if "lexical_search_failed" in flags:
        cause = _first_cause(state, "index") or "keyword search failed"
        notes.append(f"{cause.rstrip('.')}: documents were matched by meaning alone")
    if "deadline_exceeded" in flags:
        notes.append(
            f"the request deadline ({ctx.request_deadline:g} s) was reached; the remaining "
            "steps ran without the language model"
        )
    elif "llm_error" in flags:
        cause = _first_cause(state, "provider_error") or "an error"
        notes.append(
            f"the language model failed ({cause}) after its retries; the affected steps used "
            "the offline fallback"
        )
    elif flags & {"grading_fallback", "check_fallback", "rewrite_fallback"}:
        notes.append("the model's structured output was unusable; offline checks were used")
    if "uncalibrated_embeddings" in flags:
        notes.append(
            "the embedding model has no fitted score calibration, so relevance thresholds "
            "may misjudge it; fit one (tools/index/calibration.py) before relying on abstentions"
        )
    if "hostile_document" in flags:
        notes.append(
            "a retrieved document contains instructions aimed at AI assistants; it was not "
            "used as a source, and the answer may be incomplete"
        )
    return notes


async def _replace_uncited(state: State, ctx: Context, services: Services) -> tuple[str, str]:
    """The extractive answer from the relevant documents, and the note that says so."""
    docs = relevant_documents(state)
    embeddings = await asyncio.to_thread(services.embedder, ctx)
    answer = await asyncio.to_thread(extractive_answer, state["question"], docs, embeddings)
    if answer:
        return answer, (
            "the model's answer cited no source, so the matching sentences of the sources are "
            "shown instead"
        )
    language = state.get("user_language", "en")
    return insufficient_message(language), "the model's answer cited no source"


async def respond(state: State, ctx: Context, services: Services) -> dict:
    """Finalize: flags from the last check, the offline notice, and the chat message.

    The message shares its id with the sentences ``generate_answer`` streamed, and streams
    what they did not cover (the rest of the answer, its sources and notes), so a chat client
    that concatenates the chunks ends with exactly this message.
    """
    answer = state.get("answer") or ""
    route = state.get("route") or "retrieval"
    check = state.get("check") or {}
    flags: list[str] = []
    if check and not check.get("grounded", True):
        flags.append("not_grounded")
    if check and not check.get("useful", True):
        flags.append("not_useful")
    offline = services.llm(ctx) is None
    replaced = ""
    if route in ("retrieval", "web") and check.get("cited") is False:
        # No draft cited a source, so none can be verified: the sentences of the sources that
        # match the question take its place (cited, and checked by the sentence check).
        answer, replaced = await _replace_uncited(state, ctx, services)
        flags = [f for f in flags if f != "not_grounded"] + ["uncited_answer_replaced"]
        if not cited_numbers(answer):
            route = "insufficient"
    released = state.get("released") or ""
    if released and answer.startswith(released) and answer != released:
        if "not_grounded" in flags or "not_useful" in flags:
            # The check rejected the draft: keep only the sentences already shown (each one
            # verified against its source), not the rest it could not verify.
            answer = released
            flags.append("unverified_rest_dropped")
            replaced = replaced or (
                "the answer check rejected the rest of this answer; only the sentences "
                "verified against their sources are shown"
            )
    citations: list[Citation] = []
    shown = ""  # the part of the reply already streamed, in its final (renumbered) form
    if route in ("retrieval", "web", "summary"):
        number, citations = sources(answer, relevant_documents(state))
        if released and answer.startswith(released):
            shown = renumber(released, number)
            answer = shown + renumber(answer[len(released) :], number)
        else:
            answer = renumber(answer, number)
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
    if replaced:
        notes.append(replaced)
    if "extractive_summary" in (state.get("flags") or []):
        notes.append(
            "this is an extractive summary: the most representative sentences of the documents, "
            "quoted, not a written summary"
        )
    if "not_grounded" in flags and "unverified_rest_dropped" not in flags:  # that note says it
        notes.append("warning: this answer could not be fully verified against its sources")
    if "unverified_closed_book" in (state.get("flags") or []):
        notes.append("answered from the model's own knowledge; no document confirms it")
    web_failure = _first_cause(state, "web_search")
    if web_failure:
        notes.append(f"{web_failure.rstrip('.')}; answered without it")
    notes += degradation_notes(state, ctx)
    text = answer + footnotes(citations) + "".join(f"\n\nNote: {n}." for n in notes)
    mode = "offline" if offline else "llm"
    # The chat has seen ``shown`` already; the rest streams now, as the same message.
    if not text.startswith(shown):  # a bug: the chat would show a reply that is not this one
        log.error("respond: the reply does not extend the sentences already streamed")
        shown = ""
    show_in_chat(state, text[len(shown) :])
    message = AIMessage(
        content=text,
        id=state.get("reply_id"),
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
