"""Confidence check: decide whether to retrieve at all (open-rag style hybrid adaptive retrieval).

Two signals, cheapest first:

1. **Corpus probe** (:func:`probe_corpus`, no LLM): a hybrid search for the retrieval query. A
   strong match means the corpus covers the question, so the graph retrieves whatever the model
   thinks: questions about private documents must not be answered from the model's memory. Its
   hits are kept, so the retrieve step reuses them instead of searching twice. When the question
   is already in the corpus language the probe runs concurrently with ``translate_question``;
   otherwise it waits for the translation, because a Korean question does not match an English
   corpus.
2. **Model confidence** in a closed-book answer (:func:`check_confidence`, one LLM call, only when
   the probe is not strong): from token log-probabilities where the provider returns them
   (OpenAI), otherwise a verbalized confidence in structured output (Groq/Llama). Two thresholds
   as in open-rag: at or above ``confidence_high`` the closed-book answer is returned (one LLM
   call for the whole request); below ``confidence_low`` the graph retrieves; in between it
   retrieves and keeps the closed-book answer as a candidate.

The closed-book call is never started speculatively next to the probe: it would add an LLM call
to every path where the probe turns out strong (the happy path would cost 4 calls instead of 3).
"""

from __future__ import annotations

import asyncio

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import Confidence, State
from nodes.common import ask_model, filtered, lexical_fallback, llm_config, step
from tools.index.base import IndexError_
from tools.index.filters import FilterError
from tools.index.fusion import merge_by_score
from tools.index.search import search
from tools.llm.closed_book import closed_book_answer
from tools.text.intent import is_summary_request
from tools.text.language import needs_translation
from tools.text.sanitize import plain_text

NODE = "check_confidence"
PROBE_NODE = "probe_corpus"
# The question as written matching the corpus this much better than its translation means the
# translation lost the question (a calibrated-score gap; in-corpus questions score ~0.6-0.9).
TRANSLATION_MARGIN = 0.15


def probe_query(state: State, corpus_language: str) -> str:
    """The probe's query: the question if it is in the corpus language, else its translation.

    In the first case the probe runs in the same step as ``translate_question`` and cannot read
    its output (nor should it read a ``retrieval_query`` left by an earlier turn of the thread).
    """
    question = state["question"]
    if not needs_translation(question, corpus_language):
        return question
    return state.get("retrieval_query") or question


def _uncalibrated(index, update: dict) -> dict:
    """``update`` flagged ``uncalibrated_embeddings`` when no ramp was fitted for the model.

    The probe's score then maps cosines with the fallback ramp
    (:mod:`tools.index.calibration`): its thresholds may not mean what they say.
    """
    calibration = index.meta.score_calibration
    if calibration.fitted:
        return update
    note = f"; no score calibration fitted for {calibration.embedding_model}, fallback ramp"
    entries = update["path"] if isinstance(update["path"], list) else [update["path"]]
    path = [{**p, "reason": p["reason"] + note} for p in entries]
    return update | {"flags": [*update.get("flags", []), "uncalibrated_embeddings"], "path": path}


def _probe_searches(state: State, ctx: Context, services: Services):
    """Open the index and search the probe's queries, in the one worker thread.

    Returns the index, the probe query, the metadata filter, the query's hits, and (when the
    query is a translation) the hits for the question as written, else ``[]``. Raises
    ``IndexError_`` or ``FilterError``.
    """
    index = services.require_index(ctx)
    query = probe_query(state, index.meta.language)
    where = ctx.doc_filter()
    docs = search(index, query, ctx.k, multihop=ctx.multihop, filters=where)
    question = state["question"]
    original: list = []
    if query != question:  # a translation: measure it against the question as written
        original = search(index, question, ctx.k, multihop=ctx.multihop, filters=where)
    return index, query, where, docs, original


async def probe_corpus(state: State, ctx: Context, services: Services) -> dict:
    """Search the corpus for the question (no LLM) and record the best calibrated score.

    Opening and searching run in one worker thread: the index reads files and scores on the
    CPU, and each thread hop costs time of its own. An index whose embedding model has no
    fitted score calibration is flagged ``uncalibrated_embeddings``.
    """
    try:
        index, query, where, docs, original = await asyncio.to_thread(
            _probe_searches, state, ctx, services
        )
    except (IndexError_, FilterError) as exc:
        return {
            "documents": [],
            "queries": [],
            "probe_score": 0.0,
            "index_error": str(exc),
            "flags": ["index_unavailable"],
            "failures": [{"node": PROBE_NODE, "kind": "index", "cause": str(exc)}],
            "path": step(PROBE_NODE, "unavailable", str(exc)),
        }
    probe = docs[0]["score"] if docs else 0.0
    written = original[0]["score"] if original else 0.0
    if original and (state.get("translation_doubtful") or written >= probe + TRANSLATION_MARGIN):
        # The translation is suspect: search both, and let the better match speak.
        fused = merge_by_score([docs, original], ctx.k)
        best = max(probe, written)
        reason = (
            f"translation {probe:.2f}, question as written {written:.2f}: both searched"
            f"{filtered(where)}"
        )
        fallback = lexical_fallback(PROBE_NODE, fused)
        return _uncalibrated(
            index,
            fallback
            | {
                "documents": fused,
                "queries": [query, state["question"]],
                "probe_score": best,
                "translation_doubtful": True,
                "flags": ["translation_doubtful", *fallback.get("flags", [])],
                "path": step(PROBE_NODE, f"{best:.2f}", reason),
            },
        )
    return _uncalibrated(
        index,
        lexical_fallback(PROBE_NODE, docs)
        | {
            "documents": docs,
            "queries": [query],
            "probe_score": probe,
            "path": step(
                PROBE_NODE,
                f"{probe:.2f}",
                f"best of {len(docs)} hits for the probe query{filtered(where)}",
            ),
        },
    )


async def check_confidence(state: State, ctx: Context, services: Services) -> dict:
    """Decide ``retrieve`` / ``closed_book`` / ``web`` / ``error`` from the probe and the model.

    A request to summarize documents (:func:`tools.text.intent.is_summary_request`) goes to
    ``summarize`` whenever the index can be searched: it is about the user's documents.
    """
    index_error = state.get("index_error") or ""  # the probe's record: opened, or searched
    usable = not index_error
    llm = services.llm(ctx)
    web_ready = services.web(ctx).available
    probe = state.get("probe_score", 0.0) if usable else 0.0
    record: Confidence = {"probe_score": probe, "model_confidence": None, "method": None}
    update: dict = {}

    def decide(decision: str, reason: str, **extra) -> dict:
        record.update(decision=decision, reason=reason)
        return update | extra | {"confidence": record, "path": step(NODE, decision, reason)}

    if usable and is_summary_request(state["question"]):
        return decide("summarize", "a request to summarize documents: they are read whole")
    if not usable:
        if llm is None:
            return decide(
                "error",
                index_error or "index unavailable",
                route="error",
                answer=f"The index is unavailable: {index_error}",
            )
    elif probe >= ctx.probe_strong:
        return decide("retrieve", f"corpus matches strongly ({probe:.2f} ≥ {ctx.probe_strong})")

    probed = (state.get("queries") or [state["question"]])[0]
    weak, _ = ctx.score_thresholds(probed)
    if llm is None:
        if probe >= weak:
            return decide("retrieve", f"no LLM; corpus probe {probe:.2f} ≥ {weak}")
        return decide(
            "web",
            f"no LLM and the corpus does not cover the question ({probe:.2f} < {weak})",
        )

    override = ctx.prompts.get("closed_book")
    reply = await ask_model(
        NODE,
        state,
        ctx,
        lambda: closed_book_answer(
            llm,
            state["question"],
            logprob_prompt=override or prompts.CLOSED_BOOK_LOGPROB,
            verbalized_prompt=override or prompts.CLOSED_BOOK_VERBALIZED,
            language=state["user_language"],
            logprobs=ctx.confidence_method != "verbalized",
            config=llm_config(NODE, language=state["user_language"]),
        ),
    )
    if reply.value is None:
        update = reply.fallback()
        answer, confidence, method = "", 0.0, f"failed: {reply.failure['cause']}"
    else:
        answer, confidence, method = reply.value.answer, reply.value.confidence, reply.value.method
    answer, stripped = plain_text(answer)
    if stripped:
        update = update | {"flags": [*update.get("flags", []), "markup_removed"]}
    record.update(model_confidence=round(confidence, 4), method=method)
    scores = f"model confidence {confidence:.2f} ({method}), corpus probe {probe:.2f}"
    high, low = ctx.confidence_thresholds(method)
    if state.get("translation_doubtful"):
        # The model answered a question that may have been lost in translation: never
        # confident enough to skip the documents.
        high = float("inf")
        scores += "; translation doubtful"
    if not usable:
        if answer:
            unverified = ["unverified_closed_book"] if state.get("translation_doubtful") else []
            return decide(
                "closed_book",
                f"index unavailable; answering closed-book ({scores})",
                candidate_answer=answer,
                answer=answer,
                route="closed_book",
                flags=[*update.get("flags", []), *unverified],
            )
        if web_ready:
            return decide("web", f"index unavailable and the model abstained ({scores})")
        return decide(
            "error",
            f"index unavailable and the model abstained ({scores})",
            route="error",
            answer=f"The index is unavailable: {index_error}",
        )
    if confidence >= high and answer:
        return decide(
            "closed_book",
            f"{scores}: confident, no retrieval",
            candidate_answer=answer,
            answer=answer,
            route="closed_book",
        )
    if confidence >= low and answer:
        return decide(
            "retrieve",
            f"{scores}: unsure, retrieving; closed-book answer kept",
            candidate_answer=answer,
        )
    if probe < weak and web_ready:
        return decide("web", f"{scores}: not confident and the corpus does not cover it")
    return decide("retrieve", f"{scores}: not confident, retrieving")
