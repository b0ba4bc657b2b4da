"""What every node shares: path steps, prompt data blocks, and the one way to call a model.

:func:`ask_model` is the only place a node calls its model: under what is left of the turn's
deadline, with provider errors (after the SDK's own retries), replies the client cannot read
and unusable structured output turned into a typed :class:`~graph.state.Failure` and the flags
a user sees. The node then takes
its own offline fallback; nothing downstream parses a reason string to learn what happened.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.constants import TAG_NOSTREAM
from langgraph.graph.message import push_message

from graph.config import Context
from graph.state import Doc, Failure, Step
from tools.llm import deadline
from tools.llm.errors import describe_error, provider_errors
from tools.llm.structured import StructuredResult

T = TypeVar("T")
log = logging.getLogger("arag")

# What a node's structured output is called in its path reason ("unusable grader output").
_OUTPUT_NAMES = {
    "grade_documents": "grader",
    "check_answer": "checker",
    "rewrite_query": "rewrite",
    "generate_answer": "answer",
}


def step(node: str, decision: str, reason: str) -> Step:
    """One path entry."""
    return {"node": node, "decision": decision, "reason": reason}


def filtered(where: Any) -> str:
    """The path's note of a search's document filter (``""`` when there is none)."""
    return f"; filters {where.describe()}" if where else ""


def llm_config(node: str, **metadata: Any) -> RunnableConfig:
    """Config for an LLM call made by ``node``: a clear run name, tags and metadata.

    The run is named ``<node>.llm`` so a trace shows it as the node's model call, not as a
    second run with the node's own name. The ``arag:<node>`` tag tells scripted test models
    (and trace filters) which step is calling; ``metadata`` (language, draft, ...) is attached
    to the model's run. ``nostream`` keeps every model call out of LangGraph's ``messages``
    stream: a chat UI (Studio, agent-chat-ui, ``useStream``) shows only the checked answer that
    ``respond`` writes, never a grader's tool call or a draft the check rejects.
    """
    return {
        "run_name": f"{node}.llm",
        "tags": ["arag", f"arag:{node}", TAG_NOSTREAM],
        "metadata": {"arag_node": node, **metadata},
    }


def show_in_chat(state: dict, text: str) -> None:
    """Stream ``text`` to the chat as the next piece of this turn's reply message.

    It goes to LangGraph's ``messages`` stream (what Studio, agent-chat-ui, ``useStream`` and
    ``/v1`` show) as a chunk of the message ``respond`` will write (same id), and not into the
    state. Outside a graph run, or before a turn has a reply id, there is no chat to show it in.
    """
    reply_id = state.get("reply_id")
    if not reply_id or not text:
        return
    try:
        callbacks = get_config().get("callbacks")
    except RuntimeError:  # called outside a runnable context (a node called directly)
        return
    if callbacks:  # none: nobody streams this run (ainvoke), push_message would fail
        push_message(AIMessageChunk(content=text, id=reply_id, name="arag"), state_key=None)


def turn_seconds_left(state: dict, ctx: Context) -> float | None:
    """Seconds left of the turn's ``request_deadline``; None when there is no deadline."""
    started = state.get("turn_started")
    if ctx.request_deadline <= 0 or not started:
        return None
    return ctx.request_deadline - (time.time() - started)


@dataclass
class ModelReply(Generic[T]):
    """What :func:`ask_model` got: the model's ``value``, or the ``failure`` that replaced it."""

    value: T | None = None
    """The reply (for a structured call, the validated schema instance); None on failure."""
    failure: Failure | None = None
    """Why there is no value: a provider error, the deadline, or unusable output."""
    flags: list[str] = field(default_factory=list)
    """Flags for the user: ``llm_error`` (plus ``deadline_exceeded``) on a provider failure."""

    @property
    def why(self) -> str:
        """The failure in a path reason's words, e.g. ``LLM failed (timed out (...))``."""
        if self.failure is None:
            return ""
        if self.failure["kind"] == "unusable_output":
            return f"unusable {_OUTPUT_NAMES.get(self.failure['node'], 'model')} output"
        return f"LLM failed ({self.failure['cause']})"

    def fallback(self, *flags: str) -> dict[str, Any]:
        """The state update of a fallback: the failure record, ``flags`` and the reply's flags."""
        return {"failures": [self.failure], "flags": [*flags, *self.flags]}


async def ask_model(
    node: str, state: dict, ctx: Context, call: Callable[[], Awaitable[T]]
) -> ModelReply[T]:
    """Await ``call()`` under the turn's deadline; any exception becomes a failure record.

    Provider errors and replies the client cannot read (an empty stream, a body missing its
    fields; logged with their traceback for the operator) both flag ``llm_error``. A
    ``StructuredResult`` that is not ``ok`` counts as unusable output (no ``llm_error`` flag:
    the provider answered). When the deadline has already passed the model is not called.
    """
    left = turn_seconds_left(state, ctx)
    try:
        if left is not None and left <= 0:
            msg = f"the request deadline ({ctx.request_deadline:g} s) has passed"
            raise deadline.DeadlineExceeded(msg)
        with deadline.scope(left):
            value = await call()
    except Exception as exc:  # noqa: BLE001 - any reply, however malformed, is a fallback
        if not isinstance(exc, provider_errors()):
            # Not a transport error: a reply the client could not digest (an empty stream's
            # "No generations found", a body missing its fields). Logged for the operator.
            log.warning("%s: unreadable model reply (%s)", node, type(exc).__name__, exc_info=exc)
        left = turn_seconds_left(state, ctx)
        expired = deadline.is_deadline_error(exc) or (left is not None and left <= 0)
        kind = "deadline" if expired else "provider_error"
        flags = ["llm_error", "deadline_exceeded"] if expired else ["llm_error"]
        return ModelReply(
            failure=Failure(node=node, kind=kind, cause=describe_error(exc)), flags=flags
        )
    if isinstance(value, StructuredResult):
        if not value.ok or value.value is None:
            cause = value.error or "no structured output"
            return ModelReply(failure=Failure(node=node, kind="unusable_output", cause=cause))
        return ModelReply(value=value.value)  # type: ignore[arg-type]
    return ModelReply(value=value)


_TAG = re.compile(r"<(/?)\s*(question|history|document|answer)\b", re.IGNORECASE)


def untrusted(text: str) -> str:
    """``text`` with our delimiter tags defused, so it cannot close its block and open another.

    ``</document><document n="9">`` inside a document becomes ``< /document>< document n="9">``:
    still readable, no longer a tag the prompts use.
    """
    return _TAG.sub(lambda m: f"< {m.group(1)}{m.group(2)}", text)


def number_documents(docs: list[Doc] | list[tuple[int, Doc]]) -> str:
    """Documents as numbered, delimited data blocks for a prompt (contents :func:`untrusted`).

    Plain documents are numbered 1, 2, ...; ``(n, doc)`` pairs keep their own numbers (the
    checker sees only the cited documents, under the numbers the answer cites).
    """
    numbered = [item if isinstance(item, tuple) else (i, item) for i, item in enumerate(docs, 1)]
    return "\n".join(
        f'<document n="{n}" title="{untrusted(d["title"]).replace(chr(34), chr(39))}">\n'
        f"{untrusted(d['content'])}\n</document>"
        for n, d in numbered
    )


def relevant_documents(state: dict) -> list[Doc]:
    """The documents the grader kept, in retrieval order."""
    keep = set(state.get("relevant_ids") or [])
    return [d for d in state.get("documents") or [] if d["id"] in keep]


def lexical_fallback(node: str, docs: list[Doc]) -> dict[str, Any]:
    """The flag and failure record of a search that fell back to vectors alone (else ``{}``).

    The index marks every result of a search whose BM25 half failed (``lexical_failed``);
    the user is told that keyword matching was missing from this answer's search.
    """
    why = next((d["lexical_failed"] for d in docs if d.get("lexical_failed")), "")
    if not why:
        return {}
    cause = f"keyword (BM25) search failed ({why}); vector search only"
    return {
        "flags": ["lexical_search_failed"],
        "failures": [Failure(node=node, kind="index", cause=cause)],
    }
