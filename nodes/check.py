"""Check: the answer must be grounded in its cited documents and answer the question."""

from __future__ import annotations

from pydantic import BaseModel, Field

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import Check, State
from nodes.common import (
    ask_model,
    llm_config,
    number_documents,
    relevant_documents,
    step,
    untrusted,
)
from tools.llm.structured import invoke_structured
from tools.text.excerpts import cited_excerpts
from tools.text.extractive import cited_numbers, verify_answer

NODE = "check_answer"


class AnswerCheck(BaseModel):
    """Verdict on an answer."""

    grounded: bool = Field(description="Every claim is supported by the documents it cites")
    useful: bool = Field(description="The answer addresses the question")
    unsupported: list[str] = Field(default_factory=list, description="Unsupported claims")
    reason: str = Field(default="", description="One short sentence")


def _verdict(
    grounded: bool,
    useful: bool,
    unsupported: list[str],
    reason: str,
    how: str,
    *,
    cited: bool = True,
) -> dict:
    decision = "ok" if grounded and useful else ("not_grounded" if not grounded else "not_useful")
    check: Check = {
        "grounded": grounded,
        "useful": useful,
        "cited": cited,
        "unsupported": unsupported,
        "reason": reason,
    }
    return {"check": check, "path": step(NODE, decision, f"{how}: {reason}"[:240])}


async def check_answer(state: State, ctx: Context, services: Services) -> dict:
    """Judge the latest draft; an uncited one, or one citing unseen documents, fails at once.

    Those two fail without an LLM call: no checker may call an unverifiable answer grounded.

    With an LLM: one structured call judges grounding and usefulness together. Offline, or when
    the call fails or returns garbage: each sentence is verified against the document it cites.
    """
    docs = relevant_documents(state)
    answer = state.get("answer", "")
    question = state["question"]
    numbers = cited_numbers(answer)
    forged = [n for n in numbers if not 1 <= n <= len(docs)]
    if forged:
        return _verdict(
            False, True, [], f"cites {forged}, which are not among the documents", "citation check"
        )
    if not numbers:  # whatever a checker would say, an answer nobody can verify is not grounded
        reason = "the answer cites no document"
        return _verdict(False, True, [], reason, "citation check", cited=False)
    llm = services.llm(ctx)
    if llm is None:
        offline = verify_answer(question, answer, docs)
        return _verdict(
            offline.grounded, offline.useful, offline.unsupported, offline.reason, "sentence check"
        )
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
    reply = await ask_model(
        NODE,
        state,
        ctx,
        lambda: invoke_structured(llm, AnswerCheck, messages, config=llm_config(NODE)),
    )
    if reply.value is None:
        offline = verify_answer(question, answer, docs)  # the fallback, computed only when needed
        verdict = _verdict(
            offline.grounded,
            offline.useful,
            offline.unsupported,
            offline.reason,
            f"{reply.why}; sentence check",
        )
        return verdict | reply.fallback("check_fallback")
    v: AnswerCheck = reply.value
    return _verdict(v.grounded, v.useful, v.unsupported, v.reason or "checked", "LLM check")
