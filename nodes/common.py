"""Helpers shared by the nodes: path steps, document formatting and LLM-error degradation."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from langchain_core.runnables import RunnableConfig

from graph.config import Context
from graph.state import Doc, Step
from tools import deadline

log = logging.getLogger("arag")


def step(node: str, decision: str, reason: str) -> Step:
    """One path entry."""
    return {"node": node, "decision": decision, "reason": reason}


def llm_config(node: str, **metadata: Any) -> RunnableConfig:
    """Config for an LLM call made by ``node``: a clear run name, tags and metadata.

    The run is named ``<node>.llm`` so a trace shows it as the node's model call, not as a
    second run with the node's own name. The ``arag:<node>`` tag tells scripted test models
    (and trace filters) which step is calling; ``metadata`` (language, draft, ...) is attached
    to the model's run.
    """
    return {
        "run_name": f"{node}.llm",
        "tags": ["arag", f"arag:{node}"],
        "metadata": {"arag_node": node, **metadata},
    }


def provider_errors() -> tuple[type[BaseException], ...]:
    """Transport and provider errors that make a node fall back instead of failing the run.

    Malformed structured output never raises (``tools.structured`` repairs or reports it); these
    are the errors left once the client's own bounded retries are spent.
    """
    import groq
    import openai

    # Some faults escape the SDKs unwrapped: a 200 with a broken JSON body raises
    # json.JSONDecodeError, a truncated Groq stream raises httpx.RemoteProtocolError.
    from tools.chat_models import fallback_errors

    # TimeoutError covers deadline.DeadlineExceeded; fallback_errors adds httpx2's errors.
    return (
        openai.APIError,
        groq.APIError,
        httpx.HTTPError,
        json.JSONDecodeError,
        TimeoutError,
        ConnectionError,
        *fallback_errors(),
    )


def describe_error(exc: BaseException) -> str:
    """A one-line, secret-free description of a provider error: what happened, then the class.

    E.g. ``rate limited (HTTP 429, RateLimitError)``, ``timed out (APITimeoutError)``.
    """
    if deadline.is_deadline_error(exc):
        return "request deadline reached"
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    if status == 429:
        what = "rate limited"
    elif isinstance(status, int) and status >= 500:
        what = "provider error"
    elif status:
        what = "request rejected"
    elif isinstance(exc, TimeoutError) or "Timeout" in kind:
        what = "timed out"
    elif isinstance(exc, json.JSONDecodeError):
        what = "unreadable response"
    elif isinstance(exc, ConnectionError) or "Connection" in kind or "Protocol" in kind:
        what = "connection failed"
    else:
        return kind
    return f"{what} (HTTP {status}, {kind})" if status else f"{what} ({kind})"


def turn_seconds_left(state: dict, ctx: Context) -> float | None:
    """Seconds left of the turn's ``request_deadline``; None when there is no deadline."""
    started = state.get("turn_started")
    if ctx.request_deadline <= 0 or not started:
        return None
    return ctx.request_deadline - (time.time() - started)


@contextmanager
def llm_deadline(state: dict, ctx: Context) -> Iterator[None]:
    """Bound the LLM calls in the block by what is left of the turn's deadline.

    Raises ``DeadlineExceeded`` (one of :func:`provider_errors`) when nothing is left, so the
    node takes its usual offline fallback without calling the model at all.
    """
    left = turn_seconds_left(state, ctx)
    if left is not None and left <= 0:
        msg = f"the request deadline ({ctx.request_deadline:g} s) has passed"
        raise deadline.DeadlineExceeded(msg)
    with deadline.scope(left):
        yield


def failure_flags(exc: BaseException, state: dict, ctx: Context) -> list[str]:
    """Flags for an LLM step that fell back: ``llm_error``, plus ``deadline_exceeded`` if so."""
    left = turn_seconds_left(state, ctx)
    expired = deadline.is_deadline_error(exc) or (left is not None and left <= 0)
    return ["llm_error", "deadline_exceeded"] if expired else ["llm_error"]


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
