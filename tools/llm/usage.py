"""Counting the tokens of the model calls made inside a block of code.

langchain_core's ``get_usage_metadata_callback`` registers a new configure hook on every call,
and the hooks are a process-wide list that is never pruned: called once per node run it would
grow without bound. Here one context variable is registered once, at import, and
``counting_usage`` sets a fresh ``UsageMetadataCallbackHandler`` in it for the block, so every
model call the block makes (in this task, or in tasks and threads it starts) is counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.tracers.context import register_configure_hook

_counter: ContextVar[UsageMetadataCallbackHandler | None] = ContextVar(
    "arag_usage_counter", default=None
)
register_configure_hook(_counter, inheritable=True)


class _UsageCounter(UsageMetadataCallbackHandler):
    """LangChain's usage handler, called inline by the async callback manager.

    A sync handler is otherwise handed to a worker thread for every event, and one without
    ``on_chat_model_start`` gets a second event (``on_llm_start``, with every prompt formatted
    to text): three thread hops per model call. Its ``on_llm_end`` only sums tokens under a
    lock, so running it on the event loop blocks nothing.
    """

    run_inline = True

    def on_chat_model_start(self, *args, **kwargs) -> None:
        """Nothing is counted when a call starts."""


@contextmanager
def counting_usage() -> Iterator[UsageMetadataCallbackHandler]:
    """A handler that sees every model call made inside the ``with`` block."""
    handler = _UsageCounter()
    token = _counter.set(handler)
    try:
        yield handler
    finally:
        _counter.reset(token)


def total_usage(handler: UsageMetadataCallbackHandler) -> UsageMetadata | None:
    """The counted calls' tokens summed over models; None when no call reported usage."""
    if not handler.usage_metadata:
        return None
    total: UsageMetadata = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    for usage in handler.usage_metadata.values():
        total = add_usage(total, usage)
    return total
