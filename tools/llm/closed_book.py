"""Closed-book answers with a confidence score, so the graph can skip retrieval when sure.

Two ways to get a confidence:

* ``logprobs`` -- models served through ChatOpenAI (OpenAI, vLLM, Ollama, llama.cpp) return
  token log-probabilities (asked for with ``logprobs`` and ``top_logprobs=1``, which all of
  them honour); confidence is the geometric-mean token probability.
* ``verbalized`` -- Groq rejects ``logprobs``, so the model states a confidence through
  structured output (:class:`ClosedBookAnswer`).

Transport errors from the model (429/5xx/timeouts after the SDK's retries) propagate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field, field_validator

from tools.llm.chat_models import supports_logprobs
from tools.llm.structured import StructuredResult, invoke_structured
from tools.text.language import language_name

UNKNOWN = "UNKNOWN"
"""What a model says when it does not know (the prompts in ``graph/prompts.py`` ask for it)."""

QUESTION_TEMPLATE = "<question>\n{question}\n</question>"

_UNKNOWN_RE = re.compile(rf"^\W*{UNKNOWN}\W*$", re.IGNORECASE)


class ClosedBookAnswer(BaseModel):
    """A closed-book answer with the model's own confidence that it is right."""

    answer: str = Field(description=f"Concise answer, or {UNKNOWN} if you do not know.")
    confidence: float = Field(ge=0.0, le=1.0, description="0.0 = guessing, 1.0 = certain.")

    @field_validator("confidence", mode="before")
    @classmethod
    def _percent_to_fraction(cls, value: Any) -> Any:
        # Small models often say 85 meaning 85 %.
        if isinstance(value, int | float) and 1.0 < value <= 100.0:
            return value / 100.0
        return value


@dataclass
class ClosedBookResult:
    """What :func:`closed_book_answer` found; ``abstained`` means the model said UNKNOWN."""

    answer: str
    confidence: float
    method: Literal["logprobs", "verbalized", "none"]
    abstained: bool


def logprob_confidence(message: AIMessage) -> float | None:
    """``exp(mean logprob)`` over the answer's non-whitespace tokens, or None if absent.

    Reads the OpenAI format ``response_metadata["logprobs"]["content"]`` (a list of
    ``{"token", "logprob", ...}``). Whitespace-only tokens are skipped because they are
    near-certain and would inflate the score.
    """
    logprobs = (getattr(message, "response_metadata", None) or {}).get("logprobs") or {}
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    values = [
        float(t["logprob"])
        for t in content or []
        if isinstance(t, dict)
        and isinstance(t.get("logprob"), int | float)
        and str(t.get("token", "")).strip()
    ]
    if not values:
        return None
    return math.exp(sum(values) / len(values))


async def closed_book_answer(
    model: Any,
    question: str,
    *,
    logprob_prompt: str,
    verbalized_prompt: str,
    language: str = "en",
    logprobs: bool = True,
    config: Any = None,
) -> ClosedBookResult:
    """Answer ``question`` without documents and say how sure the model is.

    With logprob support the answer is plain text (``logprob_prompt``) and confidence comes from
    token logprobs; a server that silently omits logprobs falls back to the verbalized route.
    Otherwise (Groq) the confidence is verbalized via structured output (``verbalized_prompt``);
    if that output is unusable the result has confidence 0.0 and method ``"none"``.
    ``logprobs=False`` takes the verbalized route whatever the provider supports. Both
    prompts may hold ``{language}``, filled with the language's name; ``config`` (run name,
    tags, callbacks) is passed to every model call.
    """
    lang = language_name(language)
    if logprobs and supports_logprobs(model):
        prompt = _fill(logprob_prompt, lang)
        # top_logprobs too: llama.cpp's server returns logprobs only when it is set, and
        # OpenAI and vLLM accept it beside logprobs=true.
        bound = model.bind(logprobs=True, top_logprobs=1)
        reply = await bound.ainvoke(_messages(prompt, question), config=config)
        result = _from_logprob_reply(reply)
        if result is not None:
            return result
    structured = await invoke_structured(
        model, ClosedBookAnswer, _messages(_fill(verbalized_prompt, lang), question), config=config
    )
    return _from_structured(structured)


def _from_logprob_reply(reply: AIMessage) -> ClosedBookResult | None:
    """Score a plain-text reply; None when the server sent no logprobs to score it with."""
    answer = reply.text.strip()
    if not answer or _UNKNOWN_RE.match(answer):
        return ClosedBookResult("", 0.0, "logprobs", True)
    confidence = logprob_confidence(reply)
    if confidence is None:
        return None
    return ClosedBookResult(answer, confidence, "logprobs", False)


def _from_structured(result: StructuredResult) -> ClosedBookResult:
    if not result.ok or not isinstance(result.value, ClosedBookAnswer):
        return ClosedBookResult("", 0.0, "none", False)
    answer = result.value.answer.strip()
    if not answer or _UNKNOWN_RE.match(answer):
        return ClosedBookResult("", 0.0, "verbalized", True)
    return ClosedBookResult(answer, result.value.confidence, "verbalized", False)


def _fill(prompt: str, language: str) -> str:
    # str.replace, not str.format: a caller's prompt may contain literal braces.
    return prompt.replace("{language}", language)


def _messages(system: str, question: str) -> list:
    # A question cannot close the delimiter early and smuggle in "instructions".
    safe = question.replace("</question>", "</ question>")
    return [SystemMessage(system), HumanMessage(QUESTION_TEMPLATE.format(question=safe))]
