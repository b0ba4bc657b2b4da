"""An in-process chat model that replays scripted AIMessages or raises scripted errors.

Unlike ``langchain_core``'s fakes it supports ``bind_tools`` and
``with_structured_output(method=...)``, and records what each call received.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field


def tool_message(args: dict[str, Any], name: str) -> AIMessage:
    """An AIMessage carrying one well-formed tool call."""
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": "call_1"}])


def raw_tool_message(raw_args: str, name: str) -> AIMessage:
    """An AIMessage whose tool-call arguments failed to parse as JSON (as providers report)."""
    return AIMessage(
        "",
        invalid_tool_calls=[
            {
                "name": name,
                "args": raw_args,
                "id": "call_1",
                "error": "bad json",
                "type": "invalid_tool_call",
            }
        ],
    )


class ScriptedChatModel(BaseChatModel):
    """Pops one scripted item per call: an AIMessage to return or an exception to raise."""

    script: list[Any] = Field(default_factory=list)
    calls: list[dict[str, Any]] = Field(default_factory=list)
    structured_methods: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.calls.append({"messages": list(messages), "kwargs": kwargs})
        if not self.script:
            raise AssertionError("ScriptedChatModel: no scripted reply left")
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return ChatResult(generations=[ChatGeneration(message=item)])

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self,
        schema: Any,
        *,
        method: str = "function_calling",
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Any:
        self.structured_methods.append(method)
        return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
