"""OpenAI-compatible routes: ``POST /v1/chat/completions``, ``GET /v1/models`` and
``GET /v1/threads/{id}`` (the wire models are in ``openai_schemas``; ``/v1/responses`` is in
``responses_api``).

Conversations and threads:
- an explicit thread id (``X-Thread-Id`` header or ``metadata.thread_id``: any text of 1-256
  characters without control characters) is stored and resumed: only the last user message is
  appended, the thread holds the history;
- without one the run is stateless: the client keeps the history and sends all of it, and the
  graph condenses the follow-up from those messages. Nothing is stored.
System, developer, tool and function messages are dropped: the graph has its own prompts and
calls no client tools. Content parts that are not text are ignored, and the reply says so.

``max_tokens`` (or ``max_completion_tokens``) and ``stop`` bound the answer (see
``graph.config.Context.answer_max_tokens``); ``n`` > 1, tools and structured output get a 400.
``usage`` sums every model call of the turn (zeros offline).

Streaming sends only what has been checked, as soon as it has been. A token once sent to a chat
UI cannot be taken back, so the graph releases a draft sentence by sentence while the model
writes it, as far as each sentence verifies against the documents it cites; the rest follows
when the answer check has passed it (``respond``), with the sources and notes. A draft the
check rejects is never shown. The chunks concatenate to the non-streamed ``content``; the last
one carries the citations, and with ``stream_options.include_usage`` one more chunk (no
choices) the usage. Progress goes out as SSE comment lines (``: progress {...}``), which
SSE clients ignore by specification and which keep idle proxies from closing the connection.
sse-starlette frames the events (``data: {json}`` chunks, then ``data: [DONE]``).
"""  # noqa: D205

# No "from __future__ import annotations": FastAPI resolves the route signatures, which refer to
# names local to router(), when the routes are declared.
import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from arag.server.access import Access
from arag.server.errors import ApiError, invalid_request
from arag.server.openai_schemas import (
    MODEL_ID,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    Citation,
    Model,
    ModelList,
    Thread,
    Usage,
)
from arag.server.runner import Final, Runner, Step, Token, detached
from arag.server.settings import ServerSettings
from arag.server.turns import (
    answer_context,
    authenticate,
    filter_context,
    final_of,
    graph_messages,
    ignored_parts,
    last_user_message,
    owned_thread,
    refuse_n,
    requested_thread,
    requested_workspace,
    with_notes,
)

__all__ = ["MODEL_ID", "router", "word_chunks"]

SSE_LINE_END = "\n"  # LF, as this stream always used (sse-starlette defaults to CRLF)


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "invalid request",
        401: "missing or invalid API key",
        403: "this key may not write to the workspace",
        404: "unknown model or workspace, or no such thread for this key",
        408: "request body too slow",
        409: "thread busy",
        413: "request body too large",
        429: "thread quota of this API key reached",
        504: "answer took too long",
        507: "the server's disk is full: the turn could not be stored",
    }.items()
}


def unknown_model(model: str) -> ApiError:
    """404 for a model other than the graph."""
    return ApiError(
        404,
        f"The model {model!r} does not exist; use {MODEL_ID!r}.",
        "invalid_request_error",
        "model_not_found",
    )


def refuse_unsupported(extra: dict[str, Any]) -> None:
    """400 for what the graph cannot do: client tools and structured output, never silence.

    Accepting them with a 200 makes a client's structured-output call fail later, or LangChain's
    ``function_calling`` method quietly return ``None``. ``tool_choice: "none"`` and
    ``response_format: {"type": "text"}`` ask for nothing special and pass.
    """
    if extra.get("tools") or extra.get("functions"):
        raise invalid_request(
            "tools are not supported: this endpoint answers from its documents and calls no "
            "client tools.",
            "unsupported_parameter",
        )
    if extra.get("tool_choice") not in (None, "none", "auto"):
        raise invalid_request("tool_choice is not supported (no tools).", "unsupported_parameter")
    response_format = extra.get("response_format")
    if response_format and (response_format or {}).get("type") != "text":
        raise invalid_request(
            "response_format is not supported: the answer is text with numbered citations.",
            "unsupported_parameter",
        )


def word_chunks(text: str) -> list[str]:
    """Word-sized pieces that concatenate back to ``text`` exactly."""
    return [piece for piece in re.findall(r"\S*\s*", text) if piece]


def router(
    settings: ServerSettings, runner: Callable[[], Runner], route_class: type, access: Access
) -> APIRouter:
    """The ``/v1`` routes over ``runner()`` (resolved per request: it starts with the app).

    ``access`` decides which workspace a key may read (``X-Workspace`` or ``metadata.workspace``).
    """
    api = APIRouter(prefix="/v1", route_class=route_class, responses=ERRORS)
    Owner = Annotated[str, Depends(authenticate(settings))]

    @api.get("/models", response_model=ModelList)
    async def list_models(owner: Owner) -> ModelList:
        """The one model: the adaptive RAG graph."""
        return ModelList(data=[Model(id=MODEL_ID)])

    @api.get("/threads/{thread_id:path}", response_model=Thread)  # a name may hold "/"
    async def get_thread(request: Request, thread_id: str, owner: Owner) -> Thread:
        """A stored conversation; another key's thread is 404, as if it did not exist."""
        requested = requested_thread(thread_id)
        workspace = await access.areadable(owner, requested_workspace(request, None))
        stored = await owned_thread(
            runner(), request, requested, owner, new_ok=False, workspace=workspace
        )
        return Thread(id=stored, messages=await runner().messages(stored))

    @api.post(
        "/chat/completions",
        response_model=ChatCompletion,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def chat_completions(
        request: Request,
        body: ChatCompletionRequest,
        owner: Owner,
        x_thread_id: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Answer the last user message; ``stream: true`` for server-sent events."""
        if body.model != MODEL_ID:
            raise unknown_model(body.model)
        refuse_unsupported(body.model_extra or {})
        refuse_n(body.n)
        messages = graph_messages(body.messages)
        warnings = ignored_parts(body.messages)
        workspace = await access.areadable(owner, requested_workspace(request, body.metadata))
        requested = requested_thread(x_thread_id or (body.metadata or {}).get("thread_id"))
        thread_id = None
        if requested is not None:
            thread_id = await owned_thread(
                runner(),
                request,
                requested,
                owner,
                new_ok=True,
                quota=settings.max_threads_per_key,
                workspace=workspace,
            )
            messages = last_user_message(messages)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        context = answer_context(body.answer_bound(), body.stop) | {"workspace": workspace}
        context |= filter_context(body.filters)
        events = runner().run(messages, thread_id, owner, context)
        headers = {"X-Thread-Id": thread_id} if thread_id else {}
        if body.stream:
            timeout = settings.request_timeout
            usage = bool(body.stream_options and body.stream_options.include_usage)
            if thread_id:  # a client that disconnects must not leave its message unanswered
                events = detached(events, timeout)
            return EventSourceResponse(
                _sse(events, completion_id, thread_id, timeout, warnings, usage, own=not thread_id),
                headers=headers | {"Cache-Control": "no-cache"},  # sets X-Accel-Buffering: no
                sep=SSE_LINE_END,
                ping=0,  # no ": ping" comments: the progress comments keep the connection busy
                # On SIGTERM a stream may finish (it is bounded by the request timeout anyway)
                # within uvicorn's graceful shutdown, as non-streaming requests do.
                shutdown_grace_period=timeout,
            )
        final = await final_of(events)
        cited = [Citation(**c) for c in final.citations]
        content = with_notes(final.content, warnings)
        completion = ChatCompletion(
            id=completion_id,
            created=int(time.time()),
            choices=[Choice(message=AssistantMessage(content=content, citations=cited))],
            usage=Usage.of(final.usage),
            citations=cited,
            thread_id=thread_id,
            route=final.route,
            mode=final.mode,
            flags=final.flags,
            warnings=warnings,
            path=final.path,
        )
        return JSONResponse(completion.model_dump(), headers=headers)

    return api


ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def unmatched_router(route_class: type, served: list[APIRouter]) -> APIRouter:
    """``/v1/...`` that no route of ``served`` serves: 404, or 405 with ``Allow``, in OpenAI's
    format.

    A route rather than an app exception handler, so it holds on both hosts: under the LangGraph
    API this app's exception handlers would also answer for the LangGraph routes. Include it
    after the ``served`` routers.
    """  # noqa: D205
    api = APIRouter(prefix="/v1", route_class=route_class)
    routes = [route for router in served for route in router.routes if hasattr(route, "methods")]

    @api.api_route("/{rest:path}", methods=ALL_METHODS, include_in_schema=False)
    async def unmatched(request: Request, rest: str) -> None:
        path = request.url.path
        allowed = sorted(
            {m for route in routes if route.path_regex.match(path) for m in route.methods}
        )
        if allowed:
            raise ApiError(
                405,
                f"Method {request.method} is not allowed on {path}; use {', '.join(allowed)}.",
                "invalid_request_error",
                "method_not_allowed",
            ).with_headers({"Allow": ", ".join(allowed)})
        raise ApiError(
            404, f"No route {request.method} {path}.", "not_found_error", "unknown_route"
        )

    return api


def _data(text: str) -> ServerSentEvent:
    return ServerSentEvent(text, sep=SSE_LINE_END)


def _chunk(completion_id: str, created: int, delta: dict | None, **extra: Any) -> ServerSentEvent:
    """A ``chat.completion.chunk``; ``delta=None`` is the usage chunk, which has no choices."""
    choices = []
    if delta is not None:
        choices = [{"index": 0, "delta": delta, "finish_reason": extra.pop("finish_reason", None)}]
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": choices,
        **extra,
    }
    return _data(json.dumps(body, ensure_ascii=False))


async def _sse(
    events: AsyncIterator[Step | Token | Final],
    completion_id: str,
    thread_id: str | None,
    timeout: float,
    warnings: list[str],
    include_usage: bool,
    *,
    own: bool = True,
) -> AsyncIterator[ServerSentEvent]:
    """The SSE events: role, progress comments, answer chunks, a final chunk, usage, ``[DONE]``.

    ``own=False``: ``events`` is a ``detached`` turn, which ends itself after ``timeout`` once
    it has undone what it stored; waiting for that, rather than for a clock of its own, the
    504 reaches the client only when the thread is back as it was.
    """
    created = int(time.time())
    # With include_usage every chunk carries "usage": null but the last, as OpenAI sends them.
    nothing = {"usage": None} if include_usage else {}
    yield _chunk(completion_id, created, {"role": "assistant", "content": ""}, **nothing)
    final: Final | None = None
    sent = ""
    try:
        async with asyncio.timeout(timeout if own else None):
            async for event in events:
                if isinstance(event, Step):
                    progress = json.dumps(event.step, ensure_ascii=False)
                    yield ServerSentEvent(comment=f"progress {progress}", sep=SSE_LINE_END)
                elif isinstance(event, Token):
                    sent += event.text
                    for piece in word_chunks(event.text):  # a whole sentence: word by word
                        yield _chunk(completion_id, created, {"content": piece}, **nothing)
                elif isinstance(event, Final):
                    final = event
    except TimeoutError:
        error = ApiError(
            504, f"The answer took longer than {timeout:g} s.", "timeout_error", "timeout"
        )
        yield _data(json.dumps(error.body()))
        yield _data("[DONE]")
        return
    except ApiError as exc:
        yield _data(json.dumps(exc.body()))
        yield _data("[DONE]")
        return
    assert final is not None
    # The graph streamed the whole reply; a host that did not (a Final alone) is sent in full.
    content = with_notes(final.content, warnings)
    rest = content[len(sent) :] if content.startswith(sent) else ""
    for piece in word_chunks(rest):
        yield _chunk(completion_id, created, {"content": piece}, **nothing)
    yield _chunk(
        completion_id,
        created,
        {},
        finish_reason="stop",
        citations=final.citations,
        thread_id=thread_id,
        route=final.route,
        mode=final.mode,
        flags=final.flags,
        warnings=warnings,
        **nothing,
    )
    if include_usage:
        yield _chunk(completion_id, created, None, usage=Usage.of(final.usage).model_dump())
    yield _data("[DONE]")
