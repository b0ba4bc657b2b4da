"""One graph turn, read in one place: by the CLI, both server hosts and the evaluation.

The graph's nodes are async, so a turn runs with ``graph.astream``; under the LangGraph API it
arrives instead as the JSON parts of the SDK's ``runs.stream``. Either way every ``updates``
part (node → update) goes through ``TurnResult.feed``, which drops the new-turn marker of the
reset lists (``graph.state.NEW_TURN``) and keeps the path, the flags, the model usage and the
final answer.

``stream_turn`` yields the turn as it happens: a ``Step`` per path entry, a ``Token`` per
streamed piece of the reply (``messages`` mode), and the ``TurnResult`` last. ``run_turn``
returns only the result.

The reply streams as ``generate_answer`` and ``respond`` release it: the sentences of a draft
that verified against their sources while it was written, then the rest once the answer check
passed it, with the sources and notes. Tokens are never taken back: their concatenation is
the final ``TurnResult.content``. Internal model calls (grading, checks, drafts as the model
writes them) never stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages.ai import add_usage
from langgraph.types import Overwrite

from graph.state import NEW_TURN

ANSWER_NODE = "generate_answer"
"""The node that writes answer drafts."""
STREAM_MODES = ("messages", "updates")
"""``stream_turn``'s default: reply tokens and node updates."""


@dataclass
class Step:
    """One path entry: node, decision, reason."""

    step: dict[str, Any]


@dataclass
class Token:
    """A streamed piece of the reply; the pieces concatenate to the final chat message."""

    text: str


def unwrap(value: Any) -> Any:
    """An update's plain value: a reset list without its ``NEW_TURN`` marker, a reducer bypass
    (``Overwrite``, in-process or JSON-serialized) as its value.
    """  # noqa: D205
    if isinstance(value, Overwrite):
        value = value.value
    elif isinstance(value, dict) and value.get("type") == "__overwrite__":  # via the LangGraph API
        value = value.get("value")
    if isinstance(value, list) and value and value[0] == NEW_TURN:
        return value[1:]
    return value


def text_of(message: Any) -> str:
    """A message's text: a LangChain message or its JSON form, string or content parts."""
    content = message.get("content") if isinstance(message, dict) else message.content
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


@dataclass
class TurnResult:
    """What one turn produced; ``feed`` builds it from the turn's updates, node by node."""

    content: str = ""
    """The chat message: answer, numbered sources and notes."""
    answer: str = ""
    """The answer text with its ``[n]`` markers."""
    citations: list[dict[str, Any]] = field(default_factory=list)
    route: str = "retrieval"
    mode: str = "offline"
    flags: list[str] = field(default_factory=list)
    """Every flag raised during the turn, in order, once each."""
    path: list[dict[str, Any]] = field(default_factory=list)
    searched: list[dict[str, Any]] | None = None
    """The documents of the turn's first corpus search (not the web's); None if none."""
    retrieved: bool = False
    """``retrieve_documents`` ran."""
    grounded: bool | None = None
    """The last answer check's verdict; None when the answer was not checked."""
    drafts: int = 0
    """Answer drafts written."""
    responded: bool = False
    """``respond`` (the final node) ran; ``content`` to ``mode`` are what it wrote."""
    respond_flags: list[str] = field(default_factory=list)
    """The flags ``respond`` itself raised (the last check's ``not_grounded``/``not_useful``)."""
    confidence: dict[str, Any] | None = None
    """The retrieve-or-not record of ``check_confidence`` (probe score, model confidence)."""
    usage: dict[str, Any] = field(default_factory=dict)
    """Tokens the turn's model calls used (``input_tokens``, ``output_tokens``,
    ``total_tokens``), summed over the nodes' updates; empty when no model was called."""

    def feed(self, node: str, update: Any) -> list[Step]:
        """Take one node's update; return the path entries it added, as ``Step`` events."""
        if not isinstance(update, dict):
            return []
        new = unwrap(update.get("path")) or []
        steps = [new] if isinstance(new, dict) else list(new)
        self.path.extend(steps)
        flags = unwrap(update.get("flags")) or []
        for flag in [flags] if isinstance(flags, str) else flags:
            if flag not in self.flags:
                self.flags.append(flag)
        documents = unwrap(update.get("documents"))
        if self.searched is None and documents and node != "web_search":
            self.searched = documents  # the corpus search for the (translated) question
        if usage := update.get("usage"):
            self.usage = dict(add_usage(self.usage or None, usage))
        if node == "retrieve_documents":
            self.retrieved = True
        elif node == ANSWER_NODE:
            self.drafts += 1
        elif node == "check_confidence":
            self.confidence = unwrap(update.get("confidence"))
        elif node == "check_answer" and (check := unwrap(update.get("check"))):
            self.grounded = bool(check.get("grounded"))
        elif node == "respond":
            self._respond(update, flags)
        return [Step(s) for s in steps]

    def _respond(self, update: dict[str, Any], flags: Any) -> None:
        messages = unwrap(update.get("messages")) or []
        self.content = text_of(messages[-1]) if messages else ""
        self.answer = update.get("answer", "")
        self.citations = update.get("citations") or []
        self.route = update.get("route", "retrieval")
        self.mode = update.get("mode", "offline")
        self.respond_flags = [flags] if isinstance(flags, str) else list(flags)
        self.responded = True


Event = Step | Token | TurnResult


async def stream_turn(
    graph: Any,
    input: Any,
    config: dict[str, Any] | None = None,
    *,
    context: Any = None,
    stream_mode: str | Sequence[str] = STREAM_MODES,
) -> AsyncIterator[Event]:
    """Run one turn with ``graph.astream``, yielding its events and the ``TurnResult`` last.

    ``stream_mode`` is LangGraph's; ``updates`` is always added. Without ``messages`` no
    ``Token`` is yielded.
    """
    result = TurnResult()
    async for event in _events(graph, input, config, context, stream_mode, result):
        yield event
    yield result


async def run_turn(
    graph: Any,
    input: Any,
    config: dict[str, Any] | None = None,
    *,
    context: Any = None,
    stream_mode: str | Sequence[str] = "updates",
) -> TurnResult:
    """Run one turn with ``graph.astream`` and return its result."""
    result = TurnResult()
    async for _ in _events(graph, input, config, context, stream_mode, result):
        pass
    return result


async def _events(
    graph: Any,
    input: Any,
    config: dict[str, Any] | None,
    context: Any,
    stream_mode: str | Sequence[str],
    result: TurnResult,
) -> AsyncIterator[Step | Token]:
    """The turn's events as ``graph.astream`` produces them, feeding ``result`` meanwhile."""
    from langchain_core.messages import AIMessageChunk

    modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)
    if "updates" not in modes:
        modes.append("updates")
    async for mode, chunk in graph.astream(input, config, context=context, stream_mode=modes):
        if mode == "messages":
            message, _metadata = chunk
            # Only the reply's own chunks reach this stream (every model call is nostream).
            if isinstance(message, AIMessageChunk) and (text := text_of(message)):
                yield Token(text)
        elif mode == "updates" and isinstance(chunk, dict):
            for node, update in chunk.items():
                for step in result.feed(node, update):
                    yield step
