"""Condense: start a turn, validate the question, and make follow-ups standalone."""

from __future__ import annotations

import re
import time
import unicodedata

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.types import Overwrite

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import State
from nodes.common import (
    describe_error,
    failure_flags,
    llm_config,
    llm_deadline,
    provider_errors,
    step,
    untrusted,
)

NODE = "condense_question"
HISTORY_MESSAGES = 6
HISTORY_CHARS = 600


def message_text(message: AnyMessage) -> str:
    """Plain text of a message whose content may be a string or a list of content blocks."""
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(
        block.get("text", "") if isinstance(block, dict) else str(block) for block in content
    )


def clean_question(text: str) -> str:
    """Drop control characters and lone surrogates; collapse runs of blank space."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cs", "Cf"}
    )
    return re.sub(r"\s+", " ", text).strip()


def _turn_reset() -> dict:
    """Per-turn fields, reset so an earlier turn of the thread never leaks into this one."""
    return {
        "flags": Overwrite([]),
        "documents": [],
        "relevant_ids": [],
        "queries": [],
        "candidate_answer": "",
        "rewrites": 0,
        "generations": 0,
        "web_searched": False,
        "check": {},
        "confidence": {},
        "answer": "",
        "citations": [],
        "route": "retrieval",
        "turn_started": time.time(),
    }


def condense_question(state: State, ctx: Context, services: Services) -> dict:
    """Take the last human message as this turn's question; condense it on follow-up turns.

    First turn: no LLM call. Follow-up with an LLM: one call rewrites it as a standalone question
    from the history. Follow-up offline: the previous question is appended as retrieval context.
    """
    messages = state.get("messages") or []
    humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    update = _turn_reset()
    raw = message_text(messages[humans[-1]]) if humans else ""
    question = clean_question(raw)
    if not question:
        return update | {
            "question": "",
            "route": "invalid_input",
            "answer": "Please ask a question: the message was empty.",
            "path": Overwrite([step(NODE, "invalid_input", "the question is empty")]),
        }
    flags: list[str] = []
    if len(question) > ctx.max_question_chars:
        question = question[: ctx.max_question_chars]
        flags.append("question_truncated")
    history = messages[: humans[-1]]
    if not any(isinstance(m, HumanMessage) for m in history):
        used = (
            f"question cut to its first {ctx.max_question_chars:,} characters"
            if flags
            else "question used as asked"
        )
        return update | {
            "question": question,
            "flags": Overwrite(flags),
            "path": Overwrite([step(NODE, "first_turn", f"no history; {used}")]),
        }
    previous = clean_question(message_text(history[max(i for i in humans if i < humans[-1])]))
    llm = services.llm(ctx)
    if llm is None:
        standalone = f"{question} ({previous[:HISTORY_CHARS]})"
        s = step(NODE, "offline_context", "no LLM: previous question appended for retrieval")
        return update | {"question": standalone, "flags": Overwrite(flags), "path": Overwrite([s])}
    transcript = "\n".join(
        f"{m.type}: {message_text(m)[:HISTORY_CHARS]}" for m in history[-HISTORY_MESSAGES:]
    )
    try:
        with llm_deadline(update, ctx):
            reply = llm.invoke(
                [
                    ("system", ctx.prompt("condense", prompts.CONDENSE)),
                    (
                        "human",
                        f"<history>\n{untrusted(transcript)}\n</history>\n"
                        f"<question>{untrusted(question)}</question>",
                    ),
                ],
                config=llm_config(NODE),
            )
        standalone = clean_question(message_text(reply)) or question
        s = step(NODE, "standalone", f"rewritten from {len(history)} earlier messages")
    except provider_errors() as exc:
        standalone = f"{question} ({previous[:HISTORY_CHARS]})"
        flags += failure_flags(exc, update, ctx)
        s = step(NODE, "offline_context", f"LLM failed ({describe_error(exc)}); appended history")
    return update | {"question": standalone, "flags": Overwrite(flags), "path": Overwrite([s])}
