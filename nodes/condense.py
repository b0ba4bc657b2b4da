"""Condense: start a turn, validate the question, and make follow-ups standalone."""

from __future__ import annotations

import asyncio
import time
import uuid

from langchain_core.messages import HumanMessage

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import State, new_turn
from nodes.common import ask_model, llm_config, step, untrusted
from tools.text.followup import needs_history
from tools.text.messages import clean_question, message_text

NODE = "condense_question"
HISTORY_MESSAGES = 6
HISTORY_CHARS = 600


def _turn_reset() -> dict:
    """Per-turn fields, reset so an earlier turn of the thread never leaks into this one."""
    return {
        "flags": new_turn([]),
        "failures": new_turn([]),
        "index_error": "",
        "dropped_references": 0,
        "translation_doubtful": False,
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
        "reply_id": f"arag-{uuid.uuid4().hex}",
        "released": "",
    }


async def condense_question(state: State, ctx: Context, services: Services) -> dict:
    """Take the last human message as this turn's question; condense it on follow-up turns.

    Also records the corpus language of the run's index, which decides whether the corpus
    probe runs beside the translation or after it. First turn: no LLM call. A follow-up that
    names its own subject (:func:`tools.text.followup.needs_history`) is used as asked, with no
    LLM call. Any other follow-up with an LLM: one call rewrites it as a standalone question
    from the history; offline, the previous question is appended as retrieval context.
    """
    messages = state.get("messages") or []
    humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    index, _ = await asyncio.to_thread(services.try_index, ctx)  # opens files once per process
    update = _turn_reset() | {"corpus_language": index.meta.language if index else "en"}
    raw = message_text(messages[humans[-1]]) if humans else ""
    question = clean_question(raw)
    if not question:
        return update | {
            "question": "",
            "route": "invalid_input",
            "answer": "Please ask a question: the message was empty.",
            "path": new_turn([step(NODE, "invalid_input", "the question is empty")]),
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
            "flags": new_turn(flags),
            "path": new_turn([step(NODE, "first_turn", f"no history; {used}")]),
        }
    previous = clean_question(message_text(history[max(i for i in humans if i < humans[-1])]))
    if not needs_history(question, previous):  # a new topic: searched alone, no LLM call
        s = step(NODE, "new_topic", "the question names its own subject; history not used")
        return update | {"question": question, "flags": new_turn(flags), "path": new_turn([s])}
    llm = services.llm(ctx)
    if llm is None:
        standalone = f"{question} ({previous[:HISTORY_CHARS]})"
        s = step(NODE, "offline_context", "no LLM: previous question appended for retrieval")
        return update | {"question": standalone, "flags": new_turn(flags), "path": new_turn([s])}
    transcript = "\n".join(
        f"{m.type}: {message_text(m)[:HISTORY_CHARS]}" for m in history[-HISTORY_MESSAGES:]
    )
    reply = await ask_model(
        NODE,
        update,
        ctx,
        lambda: llm.ainvoke(
            [
                ("system", ctx.prompt("condense", prompts.CONDENSE)),
                (
                    "human",
                    f"<history>\n{untrusted(transcript)}\n</history>\n"
                    f"<question>{untrusted(question)}</question>",
                ),
            ],
            config=llm_config(NODE),
        ),
    )
    if reply.value is None:
        standalone = f"{question} ({previous[:HISTORY_CHARS]})"
        s = step(NODE, "offline_context", f"{reply.why}; appended history")
        return update | {  # the turn's first records: new_turn resets the previous turn's
            "question": standalone,
            "failures": new_turn([reply.failure]),
            "flags": new_turn([*flags, *reply.flags]),
            "path": new_turn([s]),
        }
    standalone = clean_question(message_text(reply.value)) or question
    s = step(NODE, "standalone", f"rewritten from {len(history)} earlier messages")
    return update | {"question": standalone, "flags": new_turn(flags), "path": new_turn([s])}
