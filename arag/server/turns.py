"""What the chat-completions and Responses routes share: the API key, thread ids and their
owners, the input messages, the client's bounds on the answer, and the notes about what a
request asked that was not done.
"""  # noqa: D205

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request

from arag.server.auth import owner_for
from arag.server.errors import ApiError, invalid_request, not_found
from arag.server.openai_schemas import ChatMessage, check_id
from arag.server.runner import Final, Runner, Step
from arag.server.settings import ServerSettings
from tools.index.filters import DocFilter, FilterError
from tools.workspaces import DEFAULT_WORKSPACE


def requested_thread(value: str | None) -> str | None:
    """A client-chosen thread id, checked: any text of 1-256 characters, no control characters."""
    if value is None:
        return None
    try:
        return check_id(value, "thread id")
    except ValueError as exc:
        raise invalid_request(f"{exc}.", "invalid_thread_id") from None


def graph_messages(messages: list[ChatMessage]) -> list[dict[str, str]]:
    """User and assistant messages as graph input; at least one user message is required.

    System, developer, tool and function messages are dropped: the graph has its own prompts
    and calls no client tools.
    """
    out = [
        {"role": m.role, "content": m.text()} for m in messages if m.role in ("user", "assistant")
    ]
    if not any(m["role"] == "user" for m in out):
        raise invalid_request("messages must contain a user message.")
    return out


def last_user_message(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The new message of a stored thread's turn (the thread holds the history)."""
    return [next(m for m in reversed(messages) if m["role"] == "user")]


def ignored_parts(messages: list[ChatMessage]) -> list[str]:
    """Warnings for the content parts that are not text, one per kind: the graph reads text."""
    kinds = list(dict.fromkeys(kind for m in messages for kind in m.ignored()))
    return [
        f"the {kind} content was ignored: this endpoint reads only the text of messages"
        for kind in kinds
    ]


def with_notes(content: str, warnings: list[str]) -> str:
    """The reply text with the request's warnings as notes under it, as the graph writes its."""
    return content + "".join(f"\n\nNote: {w}." for w in warnings)


def filter_context(filters: dict[str, Any] | None) -> dict[str, Any]:
    """Run-time context for a request's document ``filters``; a 400 naming what is wrong."""
    if not filters:
        return {}
    try:
        DocFilter.parse(filters)
    except FilterError as exc:
        raise invalid_request(str(exc), "invalid_filters", param="filters") from None
    return {"filters": dict(filters)}


def answer_context(max_tokens: int | None, stop: list[str] | None) -> dict[str, Any]:
    """Run-time context bounding the answer (``graph.config.Context`` fields)."""
    context: dict[str, Any] = {}
    if max_tokens:
        context["answer_max_tokens"] = max_tokens
    if stop:
        context["stop"] = [s for s in stop if s]
    return context


def refuse_n(n: int | None) -> None:
    """400 for ``n`` > 1: the graph writes one checked answer per turn."""
    if n is not None and n > 1:
        raise invalid_request(
            "n > 1 is not supported: the graph writes one checked answer per turn.",
            "unsupported_parameter",
        )


async def final_of(events: AsyncIterator[Step | Final]) -> Final:
    """The turn's result, once the run has finished."""
    final: Final | None = None
    async for event in events:
        if isinstance(event, Final):
            final = event
    if final is None:  # run() always ends with a Final or raises
        raise ApiError(500, "The graph ended without an answer.", "server_error", "no_answer")
    return final


def authenticate(settings: ServerSettings) -> Callable[[Request], str]:
    """A route dependency: the caller's key name (401 first, before any body validation)."""

    def owner(request: Request) -> str:
        # The keyed route class checked the key before reading the body; hosts that mount
        # these routes with another route class get the same check here.
        name = getattr(request.state, "owner", None)
        if name is None:
            name = owner_for(
                request.headers.get("authorization"),
                settings.api_keys,
                request.headers.get("x-api-key"),
            )
            request.state.owner = name
        return name

    return owner


def requested_workspace(request: Request, metadata: dict[str, str] | None) -> str | None:
    """The workspace a request names: ``X-Workspace`` header, else ``metadata.workspace``."""
    return request.headers.get("x-workspace") or (metadata or {}).get("workspace")


async def owned_thread(
    runner: Runner,
    request: Request,
    requested: str,
    owner: str,
    *,
    new_ok: bool,
    quota: int = 0,
    workspace: str = DEFAULT_WORKSPACE,
) -> str:
    """The stored id of ``requested``; 404 when another key owns it, when it belongs to
    another workspace than ``workspace`` (or, unless ``new_ok``, when it does not exist); 429
    when it would be a new thread past the key's ``quota``.
    """  # noqa: D205
    thread_id = runner.thread_id(requested)
    request.state.thread_id = thread_id
    found = await runner.owner_of(thread_id)
    if (found is None and not new_ok) or (found is not None and found != owner):
        raise not_found(f"No thread {requested!r} for this API key.")
    # A thread answers from one workspace: its history cites that workspace's documents.
    if found is not None and (await runner.workspace_of(thread_id)) != workspace:
        raise not_found(f"No thread {requested!r} for this API key in workspace {workspace!r}.")
    if found is None and quota and await runner.threads_of(owner) >= quota:
        raise ApiError(
            429,
            f"This API key already has {quota} threads, the most ARAG_MAX_THREADS_PER_KEY "
            "allows: continue an existing thread, send the request without a thread id "
            "(stateless), or ask the operator to raise the limit.",
            "rate_limit_error",
            "thread_quota_exceeded",
        )
    return thread_id
