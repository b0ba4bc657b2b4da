"""One fake chat model for both graphs: scripted decisions, simulated latency, counted tokens.

Both graphs tag every LLM call with the node that makes it (``arag:<node>`` for ours, through
``nodes.common.llm_config``; ``baseline:<node>`` for the tutorial rebuild). The model reads that
tag, asks its ``responder`` (a per-run :class:`benchmarks.graph.scenarios.Script`) for the reply,
sleeps the simulated latency and records the call.

Token estimate (the same for both graphs): ``ceil(characters / 4)`` of every message's text, plus
the JSON of the tool schemas bound to the call (providers bill those as prompt tokens); completion
tokens are the same estimate over the reply's text and tool-call arguments. It is close to what
OpenAI's tokenizers give for English prose and undercounts Korean; only the ratio between the two
graphs is reported as a target.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

CHARS_PER_TOKEN = 4
TAG_PREFIXES = ("arag:", "baseline:")

Reply = str | dict[str, Any]
Responder = Callable[[str, list[BaseMessage]], Reply]


def estimate_tokens(text: str) -> int:
    """Tokens in ``text`` by the documented estimate: one token per four characters."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Latency:
    """Simulated provider latency: ``base_ms`` per call plus ``per_100_tokens_ms`` per 100 out."""

    base_ms: float = 300.0
    per_100_tokens_ms: float = 5.0

    def seconds(self, completion_tokens: int) -> float:
        """How long a call producing ``completion_tokens`` takes."""
        return (self.base_ms + self.per_100_tokens_ms * completion_tokens / 100) / 1000


@dataclass(frozen=True)
class Call:
    """One recorded LLM call."""

    node: str
    prompt_tokens: int
    completion_tokens: int


def _node_of(run_manager: Any) -> str:
    for tag in getattr(run_manager, "tags", None) or []:
        for prefix in TAG_PREFIXES:
            if tag.startswith(prefix):
                return tag[len(prefix) :]
    raise AssertionError("CountingChatModel: an LLM call carried no arag:/baseline: node tag")


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False)


class CountingChatModel(BaseChatModel):
    """A real ``BaseChatModel``: supports ``bind_tools`` and ``with_structured_output``.

    A ``str`` reply becomes a plain AI message; a ``dict`` reply becomes one well-formed tool call
    to the tool the caller bound (which is how ``with_structured_output`` and our
    ``tools.llm.structured`` read structured output).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    responder: Any
    """``(node, messages) -> str | dict``: the scripted decision for this call."""
    latency: Latency = Field(default_factory=Latency)
    """Simulated latency per call."""
    _calls: list[Call] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "counting-fake"

    def _reply(self, messages: list[BaseMessage], run_manager: Any, kwargs: dict) -> AIMessage:
        node = _node_of(run_manager)
        reply = self.responder(node, messages)
        tools = kwargs.get("tools") or []
        prompt = "".join(_text(m) for m in messages) + (json.dumps(tools) if tools else "")
        if isinstance(reply, dict):
            name = tools[0]["function"]["name"] if tools else "tool"
            message = AIMessage("", tool_calls=[{"name": name, "args": reply, "id": "call_1"}])
            completion = json.dumps(reply, ensure_ascii=False)
        else:
            message = AIMessage(reply)
            completion = reply
        call = Call(node, estimate_tokens(prompt), estimate_tokens(completion))
        with self._lock:
            self._calls.append(call)
        message.usage_metadata = {
            "input_tokens": call.prompt_tokens,
            "output_tokens": call.completion_tokens,
            "total_tokens": call.prompt_tokens + call.completion_tokens,
        }
        return message

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        message = self._reply(messages, run_manager, kwargs)
        time.sleep(self.latency.seconds(message.usage_metadata["output_tokens"]))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        message = self._reply(messages, run_manager, kwargs)
        await asyncio.sleep(self.latency.seconds(message.usage_metadata["output_tokens"]))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        """Bind tools in OpenAI format, as the real chat models do."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self, schema: Any, *, method: str = "function_calling", include_raw: bool = False, **kw: Any
    ) -> Any:
        """Structured output through tool calling (``method`` is accepted and ignored)."""
        return super().with_structured_output(schema, include_raw=include_raw, **kw)

    @property
    def calls(self) -> list[Call]:
        """Every call so far, in order."""
        with self._lock:
            return list(self._calls)

    @property
    def prompt_tokens(self) -> int:
        """Estimated prompt tokens over all calls."""
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        """Estimated completion tokens over all calls."""
        return sum(c.completion_tokens for c in self.calls)
