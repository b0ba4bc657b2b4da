"""A chat model that sends chosen graph nodes to a scripted model and the rest to a real one.

With a real model in the loop, a route that depends on one step's verdict (nothing relevant,
so rewrite; a rejected draft, so regenerate) cannot be forced. Scripting just that step keeps
every other call, the rewrite or the second draft included, on the real model.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from pydantic import ConfigDict


def _node(run_manager: Any) -> str:
    tags = list(getattr(run_manager, "tags", None) or [])
    return next((t.split(":", 1)[1] for t in tags if t.startswith("arag:")), "untagged")


class RoutedChatModel(BaseChatModel):
    """``scripted`` answers the calls of ``nodes``; ``real`` answers every other call."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    real: BaseChatModel
    scripted: BaseChatModel
    nodes: frozenset[str]
    real_calls: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "routed"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        # The real model formats the tools (its wire format); the scripted one reads the name.
        binding = self.real.bind_tools(tools, tool_choice=tool_choice, **kwargs)
        return self.bind(**binding.kwargs)

    def _target(self, run_manager: Any) -> BaseChatModel:
        node = _node(run_manager)
        if node in self.nodes:
            return self.scripted
        self.real_calls.append(node)
        return self.real

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return self._target(run_manager)._generate(messages, stop, run_manager, **kwargs)

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        target = self._target(run_manager)
        return await target._agenerate(messages, stop, run_manager, **kwargs)
