"""Confidence check: decide whether to retrieve at all (open-rag style hybrid adaptive retrieval).

Two signals, cheapest first:

1. **Corpus probe** (no LLM): a hybrid search for the retrieval query. A strong match means the
   corpus covers the question, so the graph retrieves whatever the model thinks: questions about
   private documents must not be answered from the model's memory. Its hits are kept, so the
   retrieve step reuses them instead of searching twice.
2. **Model confidence** in a closed-book answer (one LLM call, only when the probe is not strong):
   from token log-probabilities where the provider returns them (OpenAI), otherwise a verbalized
   confidence in structured output (Groq/Llama). Two thresholds as in open-rag: at or above
   ``confidence_high`` the closed-book answer is returned (one LLM call for the whole request);
   below ``confidence_low`` the graph retrieves; in between it retrieves and keeps the closed-book
   answer as a candidate.
"""

from __future__ import annotations

from graph.config import Context
from graph.services import Services
from graph.state import Doc, State
from nodes.common import describe_error, llm_config, provider_errors, step
from tools.confidence import closed_book_answer
from tools.index.base import HybridIndex

NODE = "check_confidence"


def search(index: HybridIndex, query: str, k: int) -> list[Doc]:
    """Hybrid search, as JSON-friendly documents carrying source, chunk id and score."""
    return [
        {
            "id": d.metadata.get("chunk_id") or d.id or "",
            "content": d.page_content,
            "source": d.metadata.get("source", ""),
            "title": d.metadata.get("title", ""),
            "score": round(float(d.metadata.get("score", 0.0)), 4),
        }
        for d in index.hybrid_search(query, k=k)
    ]


def check_confidence(state: State, ctx: Context, services: Services) -> dict:
    """Decide ``retrieve`` / ``closed_book`` / ``web`` / ``error`` and record why."""
    query = state["retrieval_query"]
    index, index_error = services.try_index(ctx)
    llm = services.llm(ctx)
    web_ready = services.web(ctx).available
    docs = search(index, query, ctx.k) if index is not None else []
    probe = docs[0]["score"] if docs else 0.0
    record = {"probe_score": probe, "model_confidence": None, "method": None}
    update: dict = {"documents": docs, "queries": [query]}

    def decide(decision: str, reason: str, **extra) -> dict:
        record.update(decision=decision, reason=reason)
        return update | extra | {"confidence": record, "path": step(NODE, decision, reason)}

    if index is None:
        update["flags"] = ["index_unavailable"]
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
        result = closed_book_answer(
            llm,
            state["question"],
            language=state["user_language"],
            system_prompt=ctx.prompts.get("closed_book"),
            config=llm_config(NODE, language=state["user_language"]),
        )
        answer, confidence, method = result.answer, result.confidence, result.method
    except provider_errors() as exc:
        update["flags"] = [*update.get("flags", []), "llm_error"]
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
