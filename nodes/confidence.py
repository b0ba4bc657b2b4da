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

from graph.config import Context
from graph.services import Services
from graph.state import Doc, State
from nodes.common import (
    describe_error,
    failure_flags,
    llm_config,
    llm_deadline,
    provider_errors,
    step,
)
from nodes.translate import needs_translation
from tools.confidence import closed_book_answer
from tools.index.base import HybridIndex, IndexCorruptedError, IndexError_

NODE = "check_confidence"
PROBE_NODE = "probe_corpus"


def unreadable_index_message(index: HybridIndex, exc: Exception) -> str:
    """What is wrong with an index that opened but cannot be searched, and how to fix it."""
    # The first line of the backend's error, without the Rust source paths lance appends.
    cause = (str(exc).splitlines() or [type(exc).__name__])[0].split(", /")[0][:160]
    data_dir = getattr(index, "data_dir", None)
    if data_dir is None:
        return f"The index cannot be searched ({cause}). Check the index server, then retry."
    return (
        f"The index at {data_dir} is damaged ({cause}). Rebuild it: delete {data_dir}/lancedb "
        f"and {data_dir}/record_manager.sqlite, then run `arag ingest PATH` again."
    )


def search(index: HybridIndex, query: str, k: int, *, multihop: bool = False) -> list[Doc]:
    """Hybrid search, as JSON-friendly documents carrying source, chunk id and score.

    With ``multihop``, one hop of entity expansion (:func:`tools.index.multihop.expand_search`):
    the top hit stays first and the best document found through the names it mentions takes a
    slot, so a bridge question's second document is retrieved without an LLM.
    Raises ``IndexError_`` with the fix when the index opened but its data cannot be read (a
    truncated or deleted data file): the backends raise their own errors for that.
    """
    try:
        if multihop:
            from tools.index.multihop import expand_search

            hits = expand_search(index, query, k=k)
        else:
            hits = index.hybrid_search(query, k=k)
    except IndexError_:
        raise
    except Exception as exc:  # lancedb/weaviate raise RuntimeError/OSError/... variants
        raise IndexCorruptedError(unreadable_index_message(index, exc)) from exc
    return [
        {
            "id": d.metadata.get("chunk_id") or d.id or "",
            "content": d.page_content,
            "source": d.metadata.get("source", ""),
            "title": d.metadata.get("title", ""),
            "score": round(float(d.metadata.get("score", 0.0)), 4),
        }
        for d in hits
    ]


def probe_query(state: State, corpus_language: str) -> str:
    """The probe's query: the question if it is in the corpus language, else its translation.

    In the first case the probe runs in the same step as ``translate_question`` and cannot read
    its output (nor should it read a ``retrieval_query`` left by an earlier turn of the thread).
    """
    question = state["question"]
    if not needs_translation(question, corpus_language):
        return question
    return state.get("retrieval_query") or question


def probe_corpus(state: State, ctx: Context, services: Services) -> dict:
    """Search the corpus for the question (no LLM) and record the best calibrated score."""
    index, index_error = services.try_index(ctx)
    if index is None:
        return {
            "documents": [],
            "queries": [],
            "probe_score": 0.0,
            "flags": ["index_unavailable"],
            "path": step(PROBE_NODE, "unavailable", index_error or "index unavailable"),
        }
    query = probe_query(state, index.meta.language)
    try:
        docs = search(index, query, ctx.k, multihop=ctx.multihop)
    except IndexError_ as exc:
        return {
            "documents": [],
            "queries": [],
            "probe_score": 0.0,
            "flags": ["index_unavailable"],
            "path": step(PROBE_NODE, "unavailable", str(exc)),
        }
    probe = docs[0]["score"] if docs else 0.0
    return {
        "documents": docs,
        "queries": [query],
        "probe_score": probe,
        "path": step(PROBE_NODE, f"{probe:.2f}", f"best of {len(docs)} hits for the probe query"),
    }


def check_confidence(state: State, ctx: Context, services: Services) -> dict:
    """Decide ``retrieve`` / ``closed_book`` / ``web`` / ``error`` from the probe and the model."""
    index, index_error = services.try_index(ctx)
    if "index_unavailable" in (state.get("flags") or []):  # opened, but the probe could not read
        index = None
        index_error = next(
            (s["reason"] for s in state.get("path") or [] if s["node"] == PROBE_NODE),
            index_error,
        )
    llm = services.llm(ctx)
    web_ready = services.web(ctx).available
    probe = state.get("probe_score", 0.0) if index is not None else 0.0
    record = {"probe_score": probe, "model_confidence": None, "method": None}
    update: dict = {}

    def decide(decision: str, reason: str, **extra) -> dict:
        record.update(decision=decision, reason=reason)
        return update | extra | {"confidence": record, "path": step(NODE, decision, reason)}

    if index is None:
        if llm is None:
            return decide(
                "error",
                index_error or "index unavailable",
                route="error",
                answer=f"The index is unavailable: {index_error}",
            )
    elif probe >= ctx.probe_strong:
        return decide("retrieve", f"corpus matches strongly ({probe:.2f} ≥ {ctx.probe_strong})")

    if llm is None:
        if probe >= ctx.probe_weak:
            return decide("retrieve", f"no LLM; corpus probe {probe:.2f} ≥ {ctx.probe_weak}")
        return decide(
            "web",
            f"no LLM and the corpus does not cover the question ({probe:.2f} < {ctx.probe_weak})",
        )

    try:
        with llm_deadline(state, ctx):
            result = closed_book_answer(
                llm,
                state["question"],
                language=state["user_language"],
                system_prompt=ctx.prompts.get("closed_book"),
                config=llm_config(NODE, language=state["user_language"]),
            )
        answer, confidence, method = result.answer, result.confidence, result.method
    except provider_errors() as exc:
        update["flags"] = failure_flags(exc, state, ctx)
        answer, confidence, method = "", 0.0, f"failed: {describe_error(exc)}"
    record.update(model_confidence=round(confidence, 4), method=method)
    scores = f"model confidence {confidence:.2f} ({method}), corpus probe {probe:.2f}"
    if index is None:
        if answer:
            return decide(
                "closed_book",
                f"index unavailable; answering closed-book ({scores})",
                candidate_answer=answer,
                answer=answer,
                route="closed_book",
            )
        if web_ready:
            return decide("web", f"index unavailable and the model abstained ({scores})")
        return decide(
            "error",
            f"index unavailable and the model abstained ({scores})",
            route="error",
            answer=f"The index is unavailable: {index_error}",
        )
    if confidence >= ctx.confidence_high and answer:
        return decide(
            "closed_book",
            f"{scores}: confident, no retrieval",
            candidate_answer=answer,
            answer=answer,
            route="closed_book",
        )
    if confidence >= ctx.confidence_low and answer:
        return decide(
            "retrieve",
            f"{scores}: unsure, retrieving; closed-book answer kept",
            candidate_answer=answer,
        )
    if probe < ctx.probe_weak and web_ready:
        return decide("web", f"{scores}: not confident and the corpus does not cover it")
    return decide("retrieve", f"{scores}: not confident, retrieving")
