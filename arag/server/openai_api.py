"""OpenAI-compatible routes: ``POST /v1/chat/completions``, ``GET /v1/models`` and
``GET /v1/threads/{id}``, with the request/response models that give validation and the schema.

Conversations and threads:
- an explicit thread id (``X-Thread-Id`` header or ``metadata.thread_id``) is stored and resumed:
  only the last user message is appended, the thread holds the history;
- without one the run is stateless: the client keeps the history and sends all of it, and the
  graph condenses the follow-up from those messages. Nothing is stored.
System and tool messages are dropped: the graph has its own prompts and calls no client tools.

Streaming sends only what has been checked, as soon as it has been. A token once sent to a chat
UI cannot be taken back, so the graph releases a draft sentence by sentence while the model
writes it, as far as each sentence verifies against the documents it cites; the rest follows
when the answer check has passed it (``respond``), with the sources and notes. A draft the
check rejects is never shown. The chunks concatenate to the non-streamed ``content``; the last
one carries the citations. Progress goes out as SSE comment lines (``: progress {...}``), which
SSE clients ignore by specification and which keep idle proxies from closing the connection.
sse-starlette frames the events (``data: {json}`` chunks, then ``data: [DONE]``).
"""  # noqa: D205

# No "from __future__ import annotations": FastAPI resolves the route signatures, which refer to
# names local to router(), when the routes are declared.
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from arag.server.auth import owner_for
from arag.server.errors import ApiError, invalid_request, not_found
from arag.server.runner import Final, Runner, Step, Token
from arag.server.settings import ServerSettings

MODEL_ID = "adaptive-rag"
THREAD_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")  # fullmatch: "$" would let "id\n" pass
SSE_LINE_END = "\n"  # LF, as this stream always used (sse-starlette defaults to CRLF)


class TextPart(BaseModel):
    """A text content part (``{"type": "text", "text": ...}``)."""

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One message of the conversation the client sends."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        """The message as plain text."""
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The request body. Sampling parameters (temperature, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(MODEL_ID, description=f"Must be {MODEL_ID!r} (see GET /v1/models)")
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    user: str | None = Field(None, max_length=256, description="End-user id; logged, not a thread")
    metadata: dict[str, str] | None = Field(
        None, description="metadata.thread_id names a stored thread to continue"
    )


class Citation(BaseModel):
    """A numbered source: ``[n]`` in the answer text."""

    n: int
    id: str
    title: str
    source: str = Field(description="File path or URL")


class AssistantMessage(BaseModel):
    """The answer: text with footnotes, plus the citations as data."""

    role: Literal["assistant"] = "assistant"
    content: str
    citations: list[Citation] = []


class Choice(BaseModel):
    """The single choice."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class PathStep(BaseModel):
    """One step the graph took: node, decision and reason."""

    node: str
    decision: str
    reason: str


class ChatCompletion(BaseModel):
    """The non-streaming response, with the graph's structured answer fields added."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    citations: list[Citation]
    thread_id: str | None = Field(description="Stored thread, or null for a stateless run")
    route: str = Field(
        description="closed_book, retrieval, web, insufficient, invalid_input, error"
    )
    mode: str = Field(description="llm or offline")
    flags: list[str]
    path: list[PathStep]


class Model(BaseModel):
    """One entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "adaptive-rag"


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[Model]


class ThreadMessage(BaseModel):
    """A stored message."""

    role: str
    content: str
    citations: list[Citation] = []


class Thread(BaseModel):
    """``GET /v1/threads/{id}``: a stored conversation (an extension, not in OpenAI's API)."""

    id: str
    object: Literal["thread"] = "thread"
    messages: list[ThreadMessage]


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "invalid request",
        401: "missing or invalid API key",
        404: "unknown model, or no such thread for this key",
        408: "request body too slow",
        409: "thread busy",
        413: "request body too large",
        429: "thread quota of this API key reached",
        504: "answer took too long",
    }.items()
}


def graph_messages(messages: list[ChatMessage]) -> list[dict[str, str]]:
    """User and assistant messages as graph input; at least one user message is required."""
    out = [
        {"role": m.role, "content": m.text()} for m in messages if m.role in ("user", "assistant")
    ]
    if not any(m["role"] == "user" for m in out):
        raise invalid_request("messages must contain a user message.")
    return out


def refuse_unsupported(body: ChatCompletionRequest) -> None:
    """400 for what the graph cannot do: client tools and structured output, never silence.

    Accepting them with a 200 makes a client's structured-output call fail later, or LangChain's
    ``function_calling`` method quietly return ``None``. ``tool_choice: "none"`` and
    ``response_format: {"type": "text"}`` ask for nothing special and pass.
    """
    extra = body.model_extra or {}
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


def requested_thread(header: str | None, body: ChatCompletionRequest) -> str | None:
    """The explicit thread id, from the header or ``metadata.thread_id``."""
    value = header or (body.metadata or {}).get("thread_id")
    if value is None:
        return None
    if not THREAD_ID.fullmatch(value):
        raise invalid_request(
            "thread id must be 1-128 letters, digits, '_', '.', ':' or '-'.", "invalid_thread_id"
        )
    return value


def word_chunks(text: str) -> list[str]:
    """Word-sized pieces that concatenate back to ``text`` exactly."""
    return [piece for piece in re.findall(r"\S*\s*", text) if piece]


def router(settings: ServerSettings, runner: Callable[[], Runner], route_class: type) -> APIRouter:
    """The ``/v1`` routes over ``runner()`` (resolved per request: it starts with the app)."""
    api = APIRouter(prefix="/v1", route_class=route_class, responses=ERRORS)

    def authenticate(request: Request) -> str:
        # The keyed route class checked the key before reading the body; hosts that mount
        # these routes with another route class get the same check here.
        owner = getattr(request.state, "owner", None)
        if owner is None:
            owner = owner_for(
                request.headers.get("authorization"),
                settings.api_keys,
                request.headers.get("x-api-key"),
            )
            request.state.owner = owner
        return owner

    Owner = Annotated[str, Depends(authenticate)]

    async def owned_thread(request: Request, requested: str, owner: str, *, new_ok: bool) -> str:
        thread_id = runner().thread_id(requested)
        request.state.thread_id = thread_id
        found = await runner().owner_of(thread_id)
        if (found is None and not new_ok) or (found is not None and found != owner):
            raise not_found(f"No thread {requested!r} for this API key.")
        quota = settings.max_threads_per_key
        if found is None and quota and await runner().threads_of(owner) >= quota:
            raise ApiError(
                429,
                f"This API key already has {quota} threads, the most ARAG_MAX_THREADS_PER_KEY "
                "allows: continue an existing thread, send the request without a thread id "
                "(stateless), or ask the operator to raise the limit.",
                "rate_limit_error",
                "thread_quota_exceeded",
            )
        return thread_id

    @api.get("/models", response_model=ModelList)
    async def list_models(owner: Owner) -> ModelList:
        """The one model: the adaptive RAG graph."""
        return ModelList(data=[Model(id=MODEL_ID)])

    @api.get("/threads/{thread_id}", response_model=Thread)
    async def get_thread(request: Request, thread_id: str, owner: Owner) -> Thread:
        """A stored conversation; another key's thread is 404, as if it did not exist."""
        stored = await owned_thread(request, thread_id, owner, new_ok=False)
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
            raise ApiError(
                404,
                f"The model {body.model!r} does not exist; use {MODEL_ID!r}.",
                "invalid_request_error",
                "model_not_found",
            )
        refuse_unsupported(body)
        messages = graph_messages(body.messages)
        requested = requested_thread(x_thread_id, body)
        thread_id = None
        if requested is not None:
            thread_id = await owned_thread(request, requested, owner, new_ok=True)
            messages = [next(m for m in reversed(messages) if m["role"] == "user")]
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        events = runner().run(messages, thread_id, owner)
        headers = {"X-Thread-Id": thread_id} if thread_id else {}
        if body.stream:
            timeout = settings.request_timeout
            return EventSourceResponse(
                _sse(events, completion_id, thread_id, timeout),
                headers=headers | {"Cache-Control": "no-cache"},  # sets X-Accel-Buffering: no
                sep=SSE_LINE_END,
                ping=0,  # no ": ping" comments: the progress comments keep the connection busy
                # On SIGTERM a stream may finish (it is bounded by the request timeout anyway)
                # within uvicorn's graceful shutdown, as non-streaming requests do.
                shutdown_grace_period=timeout,
            )
        final: Final | None = None
        async for event in events:
            if isinstance(event, Final):
                final = event
        assert final is not None  # run() always ends with a Final or raises
        cited = [Citation(**c) for c in final.citations]
        completion = ChatCompletion(
            id=completion_id,
            created=int(time.time()),
            choices=[Choice(message=AssistantMessage(content=final.content, citations=cited))],
            citations=cited,
            thread_id=thread_id,
            route=final.route,
            mode=final.mode,
            flags=final.flags,
            path=final.path,
        )
        return JSONResponse(completion.model_dump(), headers=headers)

    return api


def _data(text: str) -> ServerSentEvent:
    return ServerSentEvent(text, sep=SSE_LINE_END)


def _chunk(completion_id: str, created: int, delta: dict, **extra: Any) -> ServerSentEvent:
    choice = {"index": 0, "delta": delta, "finish_reason": extra.pop("finish_reason", None)}
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [choice],
        **extra,
    }
    return _data(json.dumps(body, ensure_ascii=False))


async def _sse(
    events: AsyncIterator[Step | Token | Final],
    completion_id: str,
    thread_id: str | None,
    timeout: float,
) -> AsyncIterator[ServerSentEvent]:
    """The SSE events: role, progress comments, answer chunks, a final chunk, ``[DONE]``."""
    import asyncio

    created = int(time.time())
    yield _chunk(completion_id, created, {"role": "assistant", "content": ""})
    final: Final | None = None
    sent = ""
    try:
        async with asyncio.timeout(timeout):
            async for event in events:
                if isinstance(event, Step):
                    progress = json.dumps(event.step, ensure_ascii=False)
                    yield ServerSentEvent(comment=f"progress {progress}", sep=SSE_LINE_END)
                elif isinstance(event, Token):
                    sent += event.text
                    for piece in word_chunks(event.text):  # a whole sentence: word by word
                        yield _chunk(completion_id, created, {"content": piece})
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
    rest = final.content[len(sent) :] if final.content.startswith(sent) else ""
    for piece in word_chunks(rest):
        yield _chunk(completion_id, created, {"content": piece})
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
    )
    yield _data("[DONE]")
