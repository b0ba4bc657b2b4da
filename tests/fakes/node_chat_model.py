"""A chat model scripted per graph node, for deterministic graph tests.

Each LLM call the graph makes is tagged ``arag:<node>``; this fake looks the tag up in its
script and replies with the next entry for that node (the last entry repeats, so a one-item list
means "always"). An entry may be:

* a ``str``: a plain text reply;
* a ``dict``: a well-formed tool call to the tool the caller bound (structured output);
* an ``AIMessage``: returned as is (use it for malformed, Groq-style outputs);
* an exception instance: raised (provider failures);
* a callable ``(messages) -> entry``.

It records every call (node, messages, rough token counts) so tests can assert LLM calls per path.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from tests.fakes.scripted_chat_model import ScriptedChatModel


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class NodeScriptedChatModel(ScriptedChatModel):
    """Replies by graph node (from the ``arag:<node>`` tag) instead of by call order."""

    replies: dict[str, list[Any]] = Field(default_factory=dict)
    log: list[dict[str, Any]] = Field(default_factory=list)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        tags = list(getattr(run_manager, "tags", None) or [])
        node = next((t.split(":", 1)[1] for t in tags if t.startswith("arag:")), "untagged")
        entries = self.replies.get(node)
        if not entries:
            raise AssertionError(f"NodeScriptedChatModel: no reply scripted for node {node!r}")
        used = sum(1 for c in self.log if c["node"] == node)
        entry = entries[min(used, len(entries) - 1)]
        if callable(entry) and not isinstance(entry, BaseException):
            entry = entry(messages)
        prompt = "".join(str(m.content) for m in messages)
        self.log.append(
            {
                "node": node,
                "messages": list(messages),
                "kwargs": kwargs,
                "prompt_tokens": _tokens(prompt),
            }
        )
        if isinstance(entry, BaseException):
            raise entry
        if isinstance(entry, str):
            message = AIMessage(entry)
        elif isinstance(entry, dict):
            tool = (kwargs.get("tools") or [{}])[0].get("function", {}).get("name", "tool")
            message = AIMessage("", tool_calls=[{"name": tool, "args": entry, "id": "call_1"}])
        else:
            message = entry
        self.log[-1]["completion_tokens"] = _tokens(str(message.content) + str(message.tool_calls))
        return ChatResult(generations=[ChatGeneration(message=message)])

    @property
    def nodes_called(self) -> list[str]:
        """The node of every LLM call, in order."""
        return [c["node"] for c in self.log]
