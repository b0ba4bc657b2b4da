"""Respond: append the answer as an AI message with numbered sources, and finalize flags."""

from __future__ import annotations

import asyncio
import re

from langchain_core.messages import AIMessage

from graph.config import Context
from graph.services import Services
from graph.state import Citation, FailureKind, State
from nodes.common import relevant_documents, step
from tools.index.search import display_name
from tools.text.extractive import OFFLINE_NOTICE, cited_numbers, extractive_answer
from tools.text.language import insufficient_message, language_name

NODE = "respond"


def cite_by_source(answer: str, state: State) -> tuple[str, list[Citation]]:
    """``answer`` numbered by source, and one citation per source, in order of first citation.

    Two chunks of one file (``[1]`` and ``[4]``) become one source ``[1]``: the user sees each
    document once. Numbers that name no relevant document are left as they are (the check
    already judged them).
    """
    docs = relevant_documents(state)
    number: dict[int, int] = {}  # chunk number -> source number
    by_source: dict[str, int] = {}
    citations: list[Citation] = []
    for n in cited_numbers(answer):
        if not 1 <= n <= len(docs):
            continue
        doc = docs[n - 1]
        if doc["source"] not in by_source:
            by_source[doc["source"]] = len(citations) + 1
            citation: Citation = {
                "n": len(citations) + 1,
                "id": doc["id"],
                "title": doc["title"],
                "source": display_name(doc),
            }
            if doc.get("section"):
                citation["section"] = doc["section"]
            citations.append(citation)
        cited = citations[by_source[doc["source"]] - 1]
        if doc.get("page") and doc["page"] not in cited.get("pages", []):
            cited["pages"] = [*cited.get("pages", []), doc["page"]]
        number[n] = by_source[doc["source"]]
    renumbered = _CITATION.sub(
        lambda m: f"[{number.get(int(m.group(1)), int(m.group(1)))}]", answer
    )
    return _REPEATED.sub(r"\1", renumbered), citations


_CITATION = re.compile(r"\[(\d+)\]")
_REPEATED = re.compile(r"(\[\d+\])(?:\s*\1)+")  # "[1][1]" after renumbering: one "[1]"


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
    replaced = ""
    if route in ("retrieval", "web") and check.get("cited") is False:
        # No draft cited a source, so none can be verified: the sentences of the sources that
        # match the question take its place (cited, and checked by the sentence check).
        answer, replaced = await _replace_uncited(state, ctx, services)
        flags = [f for f in flags if f != "not_grounded"] + ["uncited_answer_replaced"]
        if not cited_numbers(answer):
            route = "insufficient"
    citations: list[Citation] = []
    if route in ("retrieval", "web"):
        answer, citations = cite_by_source(answer, state)
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
    if "not_grounded" in flags:
        notes.append("warning: this answer could not be fully verified against its sources")
    if "unverified_closed_book" in (state.get("flags") or []):
        notes.append("answered from the model's own knowledge; no document confirms it")
    web_failure = _first_cause(state, "web_search")
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
