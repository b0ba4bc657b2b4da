"""Answer: write a cited answer in the user's language from the relevant documents."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import State
from nodes.common import (
    ModelReply,
    ask_model,
    llm_config,
    number_documents,
    relevant_documents,
    show_in_chat,
    step,
    untrusted,
)
from tools.text.evidence import answer_coverage, decline_reason
from tools.text.excerpts import question_excerpts
from tools.text.extractive import (
    cite_picked,
    pick_sentences,
    rank_sentences,
    sentence_supported,
)
from tools.text.language import insufficient_message, language_name, needs_translation
from tools.text.limits import bound_answer
from tools.text.messages import message_text
from tools.text.release import SentenceRelease

NODE = "generate_answer"


def _no_documents(state: State) -> dict:
    """Nothing relevant: the closed-book candidate if one was kept, else "insufficient"."""
    candidate = state.get("candidate_answer") or ""
    if candidate:
        return {
            "answer": candidate,
            "route": "closed_book",
            "flags": ["unverified_closed_book"],
            "path": step(
                NODE,
                "closed_book_candidate",
                "no relevant documents; using the closed-book answer, unverified",
            ),
        }
    return {
        "answer": insufficient_message(state.get("user_language", "en")),
        "route": "insufficient",
        "flags": ["insufficient"],
        "path": step(NODE, "insufficient", "no relevant documents; not guessing"),
    }


def _not_in_documents(state: State, coverage: float, needed: float) -> dict:
    """A near miss: the documents match, but no sentence says what the question asks."""
    reason = (
        f"the best sentences hold {coverage:.2f} of the question's terms (< {needed:g}): "
        "the documents do not say it; not guessing"
    )
    return _declined(state, reason)


def _declined(state: State, reason: str) -> dict:
    """The extractive answer declined: relevant documents, but not the answer."""
    return {
        "answer": insufficient_message(state.get("user_language", "en")),
        "route": "insufficient",
        "flags": ["insufficient", "answer_not_found"],
        "path": step(NODE, "insufficient", reason),
    }


def _revision_note(state: State) -> str:
    """What the checker said about the previous draft, so a regeneration can fix it."""
    check = state.get("check") or {}
    if not state.get("answer") or check.get("grounded", True):
        return ""
    unsupported = "; ".join(check.get("unsupported") or [])[:500]
    return (
        f"\nA previous draft was rejected as not grounded ({check.get('reason', '')}). "
        f"Unsupported: {unsupported or 'see reason'}. Use only the documents."
    )


def _bounded_writer(llm: Any, ctx: Context, services: Services) -> Any:
    """The answering model under the client's bounds: ``answer_max_tokens`` and ``stop``.

    The token bound is the model's own ``max_tokens`` setting (a second, per-call one would
    reach OpenAI beside it), so the model is loaded with it; ``stop`` is a per-call argument.
    """
    if 0 < ctx.answer_max_tokens and not 0 < ctx.max_output_tokens <= ctx.answer_max_tokens:
        llm = services.llm(dataclasses.replace(ctx, max_output_tokens=ctx.answer_max_tokens))
    return llm.bind(stop=ctx.stop) if ctx.stop else llm


async def generate_answer(state: State, ctx: Context, services: Services) -> dict:
    """Write the answer. One streamed LLM call; offline (or if the call fails), extractive.

    The model's draft reaches the chat while it is written, sentence by sentence, as far as
    each sentence verifies against the documents it cites (``released``); the rest of the
    draft is shown by ``respond`` once the answer check has passed it.

    ``ctx.answer_max_tokens`` and ``ctx.stop`` bound it: passed to the model call, and applied
    to the extractive answer in words (:func:`tools.text.limits.bound_answer`).

    Never guesses: with no relevant documents it returns the kept closed-book candidate, flagged
    unverified, or says the information is insufficient in the user's language (no LLM call).
    The extractive answer is declined the same way (flag ``answer_not_found``) when its quoted
    sentences hold less than ``answer_coverage`` of the question's terms
    (:func:`tools.text.evidence.answer_coverage`), or none of them offers the date or number
    a "when" or "how many" question asks for, or they never mention a number the question
    names (:func:`tools.text.evidence.decline_reason`): relevant documents, but not the answer.
    """
    docs = relevant_documents(state)
    if not docs:
        return _no_documents(state)
    generations = state.get("generations", 0) + 1
    language = state.get("user_language", "en")
    llm = services.llm(ctx)
    fallback: dict = {}
    if llm is not None:
        insufficient = insufficient_message(language)
        system = ctx.prompt("answer", prompts.ANSWER).format(
            language=language_name(language), insufficient=insufficient
        )
        # Select by the question and its translation: documents are in the corpus language.
        query = f"{state['question']} {state.get('retrieval_query', '')}"
        shown = question_excerpts(docs, query, ctx.context_excerpt_chars)
        human = f"<question>{untrusted(state['question'])}</question>\n{number_documents(shown)}"
        # Streamed, and shown as it is written, but only sentence by sentence as each one
        # verifies against the documents it cites; the rest waits for the answer check.
        release = SentenceRelease(
            verified=lambda sentence: sentence_supported(sentence, docs),
            on_release=lambda piece: show_in_chat(state, piece),
        )

        writer = _bounded_writer(llm, ctx, services)

        async def write() -> SentenceRelease:
            config = llm_config(NODE, language=language, draft=generations)
            messages = [("system", system + _revision_note(state)), ("human", human)]
            async for chunk in writer.astream(messages, config=config):
                release.feed(message_text(chunk))
            return release

        reply = await ask_model(NODE, state, ctx, write)
        # Plain text only: small models echo the prompt's <document> blocks, HTML or tokens.
        answer, stripped = release.answer() if reply.value else (release.released, False)
        if answer:
            route = (
                "insufficient"
                if answer.startswith(insufficient.rstrip("."))
                else state.get("route", "retrieval")
            )
            flags = ["insufficient"] if route == "insufficient" else []
            note = "; markup removed" if stripped else ""
            if reply.failure is not None:  # the stream broke after sentences were shown
                note += f"; {reply.why}, the sentences already shown are kept"
            update = {
                "answer": answer,
                "released": release.released,
                "generations": generations,
                "route": route,
                "flags": [*flags, "markup_removed"] if stripped else flags,
                "path": step(
                    NODE,
                    f"draft {generations}",
                    f"from {len(docs)} documents in {language}{note}",
                ),
            }
            if reply.failure is not None:
                fallback = reply.fallback()
                update |= {"flags": [*update["flags"], *fallback["flags"]]}
                update["failures"] = fallback["failures"]
            return update
        if reply.failure is None:  # the model answered with nothing (or only markup)
            reply = ModelReply(
                failure={"node": NODE, "kind": "unusable_output", "cause": "empty answer"}
            )
        fallback = reply.fallback()
        reason = f"{reply.why}; extractive answer"
    else:
        reason = f"extractive: best sentences of {len(docs)} documents"
    # Embedding sentences is CPU work (and the first call loads the model): off the event loop.
    embeddings = await asyncio.to_thread(services.embedder, ctx)
    ranked = await asyncio.to_thread(rank_sentences, state["question"], docs, embeddings)
    picked = pick_sentences(state["question"], ranked)
    if picked:
        # Coverage is read in the corpus language: the translation when there is one.
        query = state.get("retrieval_query") or state["question"]
        corpus = state.get("corpus_language") or "en"
        cross = needs_translation(query, corpus)
        coverage = answer_coverage(query, picked, cross_script=cross)
        needed = ctx.answer_coverage_for(query)
        if coverage is not None and coverage < needed:
            return (
                _not_in_documents(state, coverage, needed) | fallback | {"generations": generations}
            )
        no_answer = decline_reason(query, picked, cross_script=cross)
        if no_answer:
            declined = _declined(state, f"{no_answer}: not guessing")
            return declined | fallback | {"generations": generations}
    answer = bound_answer(cite_picked(picked), ctx.answer_max_tokens, ctx.stop)
    if not answer:
        return _no_documents(state) | fallback | {"generations": generations}
    return fallback | {
        "answer": answer,
        "generations": generations,
        "path": step(NODE, f"draft {generations}", reason),
    }
