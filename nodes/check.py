"""Check: the answer must be grounded in its cited documents and answer the question."""

from __future__ import annotations

from pydantic import BaseModel, Field

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import State
from nodes.common import (
    describe_error,
    failure_flags,
    llm_config,
    llm_deadline,
    number_documents,
    provider_errors,
    relevant_documents,
    step,
    untrusted,
)
from nodes.excerpts import cited_excerpts
from nodes.offline import cited_numbers, verify_answer

NODE = "check_answer"


class AnswerCheck(BaseModel):
    """Verdict on an answer."""

    grounded: bool = Field(description="Every claim is supported by the documents it cites")
    useful: bool = Field(description="The answer addresses the question")
    unsupported: list[str] = Field(default_factory=list, description="Unsupported claims")
    reason: str = Field(default="", description="One short sentence")


def _verdict(grounded: bool, useful: bool, unsupported: list[str], reason: str, how: str) -> dict:
    decision = "ok" if grounded and useful else ("not_grounded" if not grounded else "not_useful")
    check = {"grounded": grounded, "useful": useful, "unsupported": unsupported, "reason": reason}
    return {"check": check, "path": step(NODE, decision, f"{how}: {reason}"[:240])}


def check_answer(state: State, ctx: Context, services: Services) -> dict:
    """Judge the latest draft. Citations of documents that were never given fail without an LLM.

    With an LLM: one structured call judges grounding and usefulness together. Offline, or when
    the call fails or returns garbage: each sentence is verified against the document it cites.
    """
    docs = relevant_documents(state)
    answer = state.get("answer", "")
    question = state["question"]
    forged = [n for n in cited_numbers(answer) if not 1 <= n <= len(docs)]
    if forged:
        return _verdict(
            False, True, [], f"cites {forged}, which are not among the documents", "citation check"
        )
    llm = services.llm(ctx)
    if llm is None:
        offline = verify_answer(question, answer, docs)
        return _verdict(
            offline.grounded, offline.useful, offline.unsupported, offline.reason, "sentence check"
        )
    from tools.structured import invoke_structured

    # Only the cited documents, each cut to the sentences its claims need: the checker judges
    # the citations, and uncited answers are judged against every document (cited_excerpts).
    evidence = cited_excerpts(docs, question, answer, ctx.context_excerpt_chars)
    messages = [
        ("system", ctx.prompt("check", prompts.CHECK)),
        (
            "human",
            f"<question>{untrusted(question)}</question>\n{number_documents(evidence)}\n"
            f"<answer>{untrusted(answer)}</answer>",
        ),
    ]
    try:
        with llm_deadline(state, ctx):
            result = invoke_structured(llm, AnswerCheck, messages, config=llm_config(NODE))
    except provider_errors() as exc:
        offline = verify_answer(question, answer, docs)  # the fallback, computed only when needed
        verdict = _verdict(
            offline.grounded,
            offline.useful,
            offline.unsupported,
            offline.reason,
            f"LLM failed ({describe_error(exc)}); sentence check",
        )
        return verdict | {"flags": ["check_fallback", *failure_flags(exc, state, ctx)]}
    if not result.ok or result.value is None:
        offline = verify_answer(question, answer, docs)
        verdict = _verdict(
            offline.grounded,
            offline.useful,
            offline.unsupported,
            offline.reason,
            "unusable checker output; sentence check",
        )
        return verdict | {"flags": ["check_fallback"]}
    v: AnswerCheck = result.value  # type: ignore[assignment]
    return _verdict(v.grounded, v.useful, v.unsupported, v.reason or "checked", "LLM check")
