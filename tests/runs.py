"""Run the async graph and model helpers from sync tests, on one event loop for the session.

One loop, as a server has: LangChain's OpenAI client shares one default async HTTP client
process-wide, and its pooled connections belong to the loop that opened them.
"""

from __future__ import annotations

import asyncio
import atexit
from typing import Any

from graph import prompts
from tools.llm.closed_book import ClosedBookResult, closed_book_answer
from tools.llm.structured import StructuredResult, invoke_structured

_runner = asyncio.Runner()
atexit.register(_runner.close)


def run(coro: Any) -> Any:
    """Run ``coro`` to completion on the tests' event loop."""
    return _runner.run(coro)


def invoke(graph: Any, *args: Any, **kwargs: Any) -> dict:
    """``graph.ainvoke(...)`` to completion."""
    return run(graph.ainvoke(*args, **kwargs))


def stream(graph: Any, *args: Any, **kwargs: Any) -> list:
    """Every part of ``graph.astream(...)``, as a list."""

    async def collect() -> list:
        return [part async for part in graph.astream(*args, **kwargs)]

    return run(collect())


def structured(model: Any, schema: Any, messages: Any, **kwargs: Any) -> StructuredResult:
    """``invoke_structured(...)`` to completion."""
    return run(invoke_structured(model, schema, messages, **kwargs))


def closed_book(model: Any, question: str, **kwargs: Any) -> ClosedBookResult:
    """``closed_book_answer(...)`` with the graph's default prompts, to completion."""
    kwargs.setdefault("logprob_prompt", prompts.CLOSED_BOOK_LOGPROB)
    kwargs.setdefault("verbalized_prompt", prompts.CLOSED_BOOK_VERBALIZED)
    return run(closed_book_answer(model, question, **kwargs))
