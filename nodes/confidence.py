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


from pydantic import BaseModel, Field

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import Doc, State
from nodes.common import describe_error, llm_config, provider_errors, step
from nodes.condense import message_text
from tools.chat_models import supports_logprobs
from tools.confidence import logprob_confidence
from tools.index.base import HybridIndex
from tools.language import language_name
from tools.structured import invoke_structured

NODE = "check_confidence"
UNKNOWN = "UNKNOWN"


class ClosedBookAnswer(BaseModel):
    """A closed-book answer with the model's own confidence that it is correct."""

    answer: str = Field(description="The answer, or UNKNOWN")
    confidence: float = Field(ge=0.0, le=1.0, description="Probability the answer is correct")


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


def closed_book(llm, question: str, language: str, ctx: Context) -> tuple[str, float, str]:
    """Ask for a closed-book answer; return ``(answer, confidence, method)``."""
    config = llm_config(NODE, language=language)
    human = ("human", f"<question>{question}</question>")
    if supports_logprobs(llm):
        system = ctx.prompt("closed_book", prompts.CLOSED_BOOK).format(
            language=language_name(language)
        )
        reply = llm.bind(logprobs=True).invoke([("system", system), human], config=config)
        answer = message_text(reply).strip()
        if not answer or answer.upper().startswith(UNKNOWN):
            return "", 0.0, "logprobs"
        confidence = logprob_confidence(reply)
        if confidence is not None:
            return answer, confidence, "logprobs"
        # A compatible server that ignores logprobs: no evidence of confidence, so retrieve.
        return answer, 0.0, "none"
    system = ctx.prompt("closed_book", prompts.CLOSED_BOOK_VERBALIZED).format(
        language=language_name(language)
    )
    result = invoke_structured(llm, ClosedBookAnswer, [("system", system), human], config=config)
    if not result.ok or result.value is None:
        return "", 0.0, "none"
    value: ClosedBookAnswer = result.value  # type: ignore[assignment]
    if value.answer.strip().upper().startswith(UNKNOWN):
        return "", 0.0, "verbalized"
    return value.answer.strip(), float(value.confidence), "verbalized"


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
            return decide("error", index_error or "index unavailable", route="error",
                          answer=f"The index is unavailable: {index_error}")
    elif probe >= ctx.probe_strong:
        return decide("retrieve", f"corpus matches strongly ({probe:.2f} ≥ {ctx.probe_strong})")

    if llm is None:
        if probe >= ctx.probe_weak:
            return decide("retrieve", f"no LLM; corpus probe {probe:.2f} ≥ {ctx.probe_weak}")
        return decide(
            "web", f"no LLM and the corpus does not cover the question ({probe:.2f} < {ctx.probe_weak})"
        )

    try:
        answer, confidence, method = closed_book(llm, state["question"], state["user_language"], ctx)
    except provider_errors() as exc:
        update["flags"] = [*update.get("flags", []), "llm_error"]
        answer, confidence, method = "", 0.0, f"failed: {describe_error(exc)}"
    record.update(model_confidence=round(confidence, 4), method=method)
    scores = f"model confidence {confidence:.2f} ({method}), corpus probe {probe:.2f}"
    if index is None:
        if answer:
            return decide("closed_book", f"index unavailable; answering closed-book ({scores})",
                          candidate_answer=answer, answer=answer, route="closed_book")
        return decide("error", f"index unavailable and the model abstained ({scores})",
                      route="error", answer=f"The index is unavailable: {index_error}")
    if confidence >= ctx.confidence_high and answer:
        return decide("closed_book", f"{scores}: confident, no retrieval",
                      candidate_answer=answer, answer=answer, route="closed_book")
    if confidence >= ctx.confidence_low and answer:
        return decide("retrieve", f"{scores}: unsure, retrieving; closed-book answer kept",
                      candidate_answer=answer)
    if probe < ctx.probe_weak and web_ready:
        return decide("web", f"{scores}: not confident and the corpus does not cover it")
    return decide("retrieve", f"{scores}: not confident, retrieving")


__all__ = ["check_confidence", "search", "closed_book", "ClosedBookAnswer"]
