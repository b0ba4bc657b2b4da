"""Grade: judge all retrieved documents' relevance in ONE LLM call (never one call per document)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import Doc, State
from nodes.common import ask_model, llm_config, number_documents, step, untrusted
from tools.llm.structured import invoke_structured
from tools.text.excerpts import question_excerpts
from tools.text.extractive import looks_like_instruction

NODE = "grade_documents"
# Offline, a document also has to be within this fraction of the best score: it keeps a weak
# tail of barely-related chunks out of the extractive answer.
RELATIVE_CUT = 0.75


class DocumentGrades(BaseModel):
    """Which of the numbered documents help answer the question."""

    relevant: list[int] = Field(description="Numbers of the relevant documents; empty if none")
    reason: str = Field(description="One short sentence")


def grade_by_score(docs: list[Doc], threshold: float) -> list[Doc]:
    """Offline relevance: calibrated score above ``threshold`` and close to the best score.

    The first document in retrieval order also passes on the threshold alone: the fusion put
    it first on its BM25 strength, which the calibrated score does not hold ("What kind of
    program is GNU ed?" ranks ed's README first, with a lower score than coreutils').
    Documents that give the assistant orders (:func:`looks_like_instruction`) are never
    relevant: a planted "ignore previous instructions" page must not push real ones out.
    """
    docs = [d for d in docs if not looks_like_instruction(d["content"])]
    if not docs:
        return []
    top = max(d["score"] for d in docs)
    return [
        d
        for i, d in enumerate(docs)
        if d["score"] >= threshold and (i == 0 or d["score"] >= RELATIVE_CUT * top)
    ]


async def grade_documents(state: State, ctx: Context, services: Services) -> dict:
    """Set ``relevant_ids``. One structured LLM call, or calibrated scores offline/on failure.

    A document that matches well enough to be a source (calibrated score at or above the
    relevance threshold) but gives the assistant orders (:func:`looks_like_instruction`)
    adds the ``hostile_document`` flag, so the answer says so rather than looking normal.
    """
    update = await _grade(state, ctx, services)
    docs = state.get("documents") or []
    _, threshold = ctx.score_thresholds(state.get("retrieval_query") or state["question"])
    if any(d["score"] >= threshold and looks_like_instruction(d["content"]) for d in docs):
        update["flags"] = [*update.get("flags", []), "hostile_document"]
    return update


async def _grade(state: State, ctx: Context, services: Services) -> dict:
    docs = state.get("documents") or []
    if not docs:
        return {"relevant_ids": [], "path": step(NODE, "0 relevant", "nothing was retrieved")}
    llm = services.llm(ctx)
    # A CJK query is scored on character pairs alone: it has its own threshold.
    _, threshold = ctx.score_thresholds(state.get("retrieval_query") or state["question"])
    by_score = grade_by_score(docs, threshold)
    fallback_reason = f"calibrated score ≥ {threshold}"
    if llm is None:
        ids = [d["id"] for d in by_score]
        return {"relevant_ids": ids, "path": step(NODE, f"{len(ids)} relevant", fallback_reason)}
    query = state["retrieval_query"]
    # Excerpts match every query searched this turn: a rewrite's words found these documents.
    searched = " ".join(dict.fromkeys([query, *(state.get("queries") or [])]))
    # Matching sentences only: relevance shows in them, and the grader reads every document.
    shown = question_excerpts(docs, searched, ctx.grade_excerpt_chars, fill=False)
    messages = [
        ("system", ctx.prompt("grade", prompts.GRADE)),
        ("human", f"<question>{untrusted(query)}</question>\n{number_documents(shown)}"),
    ]
    reply = await ask_model(
        NODE,
        state,
        ctx,
        lambda: invoke_structured(llm, DocumentGrades, messages, config=llm_config(NODE)),
    )
    if reply.value is None:
        ids = [d["id"] for d in by_score]
        return reply.fallback("grading_fallback") | {
            "relevant_ids": ids,
            "path": step(NODE, f"{len(ids)} relevant", f"{reply.why}; {fallback_reason}"),
        }
    grades: DocumentGrades = reply.value
    named = list(dict.fromkeys(grades.relevant))
    ids = [docs[n - 1]["id"] for n in named if 1 <= n <= len(docs)]
    # A grader that names documents it was never shown (a small model's "302964785") is
    # partly wrong: its out-of-range numbers are dropped, counted and shown.
    dropped = len(named) - len(ids)
    if dropped:
        reason = f"dropped {dropped} reference(s) to documents not offered; {grades.reason}"
        return {
            "relevant_ids": ids,
            "dropped_references": state.get("dropped_references", 0) + dropped,
            "flags": ["invalid_references"],
            "path": step(NODE, f"{len(ids)} relevant", reason[:240]),
        }
    return {"relevant_ids": ids, "path": step(NODE, f"{len(ids)} relevant", grades.reason[:200])}
