"""The chat-completions stand-in with one script per graph step instead of one queue.

A server process (``langgraph dev``, ``arag serve``) runs steps concurrently (translation and
the corpus probe share a step) and skips some (no condensation on a first turn), so the order
of its model calls is not fixed. Here each request is sorted by what it asks for and pops the
next reply of that step's own queue::

    with StepScriptedOpenAIServer() as llm:
        llm.script_for("generate", Reply.say("A draft the check rejects [1]."), Reply.say(...))
        llm.script_for("AnswerCheck", Reply.tool_call({"grounded": False, ...}), ...)

A step is the name of the tool a structured call forces (``DocumentGrades``, ``AnswerCheck``,
``QueryRewrites``, ``ClosedBookAnswer``) or, for a plain text call, the prompt it was sent
(:data:`TEXT_STEPS`). A step with nothing left answers 400, as the base server does, and the
graph takes its visible offline fallback for that step. The base class's ``script`` queue is not
used here.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from graph import prompts
from tests.fakes.openai_server import FakeOpenAIServer, Reply

TEXT_STEPS = {
    "condense": prompts.CONDENSE,
    "translate": prompts.TRANSLATE,
    "generate": prompts.ANSWER,
    "closed_book": prompts.CLOSED_BOOK_LOGPROB,
}
"""Plain text calls, named by the system prompt they start with (its first 40 characters)."""


def step_of(body: Any) -> str:
    """The graph step a chat-completions request body belongs to; ``unknown`` if none."""
    if not isinstance(body, dict):
        return "unknown"
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and (name := (choice.get("function") or {}).get("name")):
        return name
    system = next(
        (m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "system"),
        "",
    )
    if isinstance(system, list):  # content parts
        system = "".join(part.get("text", "") for part in system)
    for step, prompt in TEXT_STEPS.items():
        if system.startswith(prompt[:40]):
            return step
    return "unknown"


class StepScriptedOpenAIServer(FakeOpenAIServer):
    """:class:`FakeOpenAIServer` whose replies are queued per graph step (see module doc)."""

    def __init__(self, model_ids: tuple[str, ...] = ("fake-model",)):
        super().__init__(model_ids)
        self._queues: dict[str, deque[Reply]] = {}
        self.steps: list[str] = []
        """The step of every request, in arrival order."""

    def script_for(self, step: str, *replies: Reply) -> StepScriptedOpenAIServer:
        """Queue ``replies`` for the requests of ``step``."""
        with self._lock:
            self._queues.setdefault(step, deque()).extend(replies)
        return self

    def pending_for(self, step: str) -> int:
        """Replies still queued for ``step``."""
        with self._lock:
            return len(self._queues.get(step, ()))

    def _next(self, path: str, body: Any, headers: dict[str, str]) -> Reply | None:
        step = step_of(body)
        with self._lock:
            self.steps.append(step)
            queue = self._queues.get(step)
        super()._next(path, body, headers)  # records the request; its own queue stays empty
        with self._lock:
            return queue.popleft() if queue else None
