"""``POST /v1/responses``: OpenAI's Responses API, text in and text out, over the same graph.

- ``input`` is a string (one user message) or a list of message items (``role`` and ``content``,
  a string or ``input_text``/``output_text`` parts; other parts are ignored with a warning).
  ``instructions`` is accepted and echoed, not used: the graph has its own prompts.
- ``store`` (default true) keeps the conversation as a thread; the response id names it, and
  ``previous_response_id`` continues it (only the new user message is appended). It continues
  the conversation from its latest turn: there is no forking from an earlier response. With
  ``store: false`` the run is stateless and its id cannot be continued.
- ``max_output_tokens`` bounds the answer as ``max_tokens`` does on chat completions.
- ``tools``, a ``tool_choice`` other than none/auto and a ``text.format`` other than text
  get a 400.

Streamed, the events are OpenAI's for one text message: ``response.created``,
``response.in_progress``, ``response.output_item.added``, ``response.content_part.added``,
``response.output_text.delta``…, ``response.output_text.done``, ``response.content_part.done``,
``response.output_item.done``, ``response.completed`` (with the usage), each with its
``sequence_number``; a failure is ``response.failed``. Progress goes out as SSE comments, as on
chat completions.
"""

# No "from __future__ import annotations": FastAPI resolves the route signatures at declaration.
import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from arag.server.access import Access
from arag.server.errors import ApiError, invalid_request, not_found
from arag.server.openai_api import (
    ERRORS,
    SSE_LINE_END,
    refuse_unsupported,
    unknown_model,
    word_chunks,
)
from arag.server.openai_schemas import MODEL_ID, ChatMessage, ContentPart
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
    requested_workspace,
    with_notes,
)

RESPONSE_ID = re.compile(r"resp_([0-9a-f]{32})[0-9a-f]{16}")
"""``resp_`` + the conversation's key + this response's own: the id names its thread."""


class InputItem(BaseModel):
    """One input item: a message (``type`` may be omitted); other item types are ignored."""

    model_config = ConfigDict(extra="allow")
    type: str = "message"
    role: Literal["user", "assistant", "system", "developer"] | None = None
    content: str | list[ContentPart] | None = None


class ResponseRequest(BaseModel):
    """The request body. Sampling parameters (temperature, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(MODEL_ID, description=f"Must be {MODEL_ID!r}")
    input: str | list[InputItem] = Field(description="A user message, or a list of messages")
    instructions: str | None = Field(None, description="Accepted and echoed; not used")
    previous_response_id: str | None = Field(None, description="Continue its conversation")
    # Strict: JSON true or false only (schemathesis found "stream": 0 taken as false).
    store: StrictBool = Field(True, description="Keep the conversation so it can be continued")
    stream: StrictBool = False
    max_output_tokens: int | None = Field(
        None, ge=1, strict=True, description="Tokens the answer may take (a JSON integer)"
    )
    metadata: dict[str, str] | None = None
    filters: dict[str, Any] | None = Field(
        None,
        description="Document filters: source_prefix, tags, file_types, ingested_after, "
        "ingested_before (see the README's Workspaces section)",
    )

    def messages(self) -> tuple[list[ChatMessage], list[str]]:
        """The input as chat messages, and warnings for the items that are not messages."""
        if isinstance(self.input, str):
            return [ChatMessage(role="user", content=self.input)], []
        messages, skipped = [], []
        for item in self.input:
            if item.type != "message" or item.role is None:
                skipped.append(item.type)
                continue
            messages.append(ChatMessage(role=item.role, content=item.content))
        warnings = [
            f"the {kind} input item was ignored: this endpoint reads only messages"
            for kind in dict.fromkeys(skipped)
        ]
        return messages, warnings


def refuse_text_format(extra: dict[str, Any]) -> None:
    """400 for structured output (``text.format`` other than text)."""
    text_format = (extra.get("text") or {}).get("format") or {}
    if text_format and text_format.get("type") != "text":
        raise invalid_request(
            "text.format is not supported: the answer is text with numbered citations.",
            "unsupported_parameter",
            "text.format",
        )


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    """The turn's usage in the Responses API's shape."""
    prompt, completion = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.get("total_tokens", prompt + completion),
    }


class Reply:
    """One response being built: its ids, the request's echo fields and its JSON forms."""

    def __init__(self, body: ResponseRequest, thread_key: str, thread_id: str | None):
        """Ids for the response and its one message; ``thread_key`` names the conversation."""
        self.id = f"resp_{thread_key}{uuid.uuid4().hex[:16]}"
        self.message_id = f"msg_{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.body = body
        self.thread_id = thread_id

    def message(self, text: str, status: str = "completed") -> dict[str, Any]:
        """The output message item."""
        content = [{"type": "output_text", "text": text, "annotations": []}] if text else []
        return {
            "type": "message",
            "id": self.message_id,
            "status": status,
            "role": "assistant",
            "content": content,
        }

    def response(
        self, final: Final | None, warnings: list[str], status: str = "completed"
    ) -> dict[str, Any]:
        """The response object; ``final`` None while it is in progress."""
        done = final is not None
        output = [self.message(with_notes(final.content, warnings))] if final else []
        body: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": self.body.instructions,
            "max_output_tokens": self.body.max_output_tokens,
            "model": MODEL_ID,
            "output": output,
            "parallel_tool_calls": False,
            "previous_response_id": self.body.previous_response_id,
            "store": self.body.store,
            "temperature": None,
            "text": {"format": {"type": "text"}},
            "tool_choice": "none",
            "tools": [],
            "top_p": None,
            "truncation": "disabled",
            "usage": _usage(final.usage) if done else None,
            "metadata": self.body.metadata or {},
            "thread_id": self.thread_id,
            "warnings": warnings,
        }
        if final is not None:
            body |= {
                "citations": final.citations,
                "route": final.route,
                "mode": final.mode,
                "flags": final.flags,
                "path": final.path,
            }
        return body


def router(
    settings: ServerSettings, runner: Callable[[], Runner], route_class: type, access: Access
) -> APIRouter:
    """The ``/v1/responses`` route over ``runner()``; ``access`` checks the workspace."""
    api = APIRouter(prefix="/v1", route_class=route_class, responses=ERRORS)
    Owner = Annotated[str, Depends(authenticate(settings))]

    async def conversation(
        request: Request, body: ResponseRequest, owner: str, workspace: str
    ) -> tuple[str, str | None]:
        """The conversation's key and stored thread id (None: stateless)."""
        previous = body.previous_response_id
        if previous is None:
            key = uuid.uuid4().hex
            if not body.store:
                return key, None
            thread = await owned_thread(
                runner(), request, f"resp-{key}", owner, new_ok=True, workspace=workspace
            )
            return key, thread
        match = RESPONSE_ID.fullmatch(previous)
        if match is None:
            raise not_found(f"No response {previous[:80]!r} for this API key.")
        key = match.group(1)
        try:
            thread = await owned_thread(
                runner(), request, f"resp-{key}", owner, new_ok=False, workspace=workspace
            )
        except ApiError as exc:
            if exc.status != 404:
                raise
            raise not_found(f"No response {previous!r} for this API key.") from None
        return key, thread

    @api.post("/responses", responses={200: {"content": {"text/event-stream": {}}}})
    async def create_response(request: Request, body: ResponseRequest, owner: Owner) -> Any:
        """Answer the input's last user message; ``stream: true`` for the Responses events."""
        if body.model != MODEL_ID:
            raise unknown_model(body.model)
        extra = body.model_extra or {}
        refuse_unsupported(extra)
        refuse_text_format(extra)
        chat, skipped = body.messages()
        messages = graph_messages(chat)
        warnings = skipped + ignored_parts(chat)
        workspace = await access.areadable(owner, requested_workspace(request, body.metadata))
        key, thread_id = await conversation(request, body, owner, workspace)
        if body.previous_response_id is not None:
            messages = last_user_message(messages)
        reply = Reply(body, key, thread_id)
        context = answer_context(body.max_output_tokens, None) | {"workspace": workspace}
        context |= filter_context(body.filters)
        events = runner().run(messages, thread_id, owner, context)
        if body.stream:
            timeout = settings.request_timeout
            if thread_id:  # a client that disconnects must not leave its message unanswered
                events = detached(events, timeout)
            return EventSourceResponse(
                _events(events, reply, warnings, timeout, own=not thread_id),
                headers={"Cache-Control": "no-cache"},
                sep=SSE_LINE_END,
                ping=0,
                shutdown_grace_period=timeout,
            )
        final = await final_of(events)
        return JSONResponse(reply.response(final, warnings))

    return api


async def _events(
    events: AsyncIterator[Step | Token | Final],
    reply: Reply,
    warnings: list[str],
    timeout: float,
    *,
    own: bool = True,
) -> AsyncIterator[ServerSentEvent]:
    """The Responses API's stream for one text message, with progress comments meanwhile.

    ``own=False``: a ``detached`` turn bounds itself (see ``openai_api._sse``).
    """
    sequence = 0

    def event(kind: str, **fields: Any) -> ServerSentEvent:
        nonlocal sequence
        data = {"type": kind, "sequence_number": sequence, **fields}
        sequence += 1
        return ServerSentEvent(json.dumps(data, ensure_ascii=False), event=kind, sep=SSE_LINE_END)

    yield event("response.created", response=reply.response(None, warnings, "in_progress"))
    yield event("response.in_progress", response=reply.response(None, warnings, "in_progress"))
    where = {"item_id": reply.message_id, "output_index": 0, "content_index": 0}
    empty_part = {"type": "output_text", "text": "", "annotations": []}
    final: Final | None = None
    sent, opened = "", False
    try:
        async with asyncio.timeout(timeout if own else None):
            async for item in events:
                if isinstance(item, Step):
                    progress = json.dumps(item.step, ensure_ascii=False)
                    yield ServerSentEvent(comment=f"progress {progress}", sep=SSE_LINE_END)
                elif isinstance(item, Token):
                    # The reply as the graph releases it: checked sentences, never taken back.
                    if not opened:
                        yield event(
                            "response.output_item.added",
                            output_index=0,
                            item=reply.message("", "in_progress"),
                        )
                        yield event("response.content_part.added", **where, part=empty_part)
                        opened = True
                    sent += item.text
                    for piece in word_chunks(item.text):
                        yield event("response.output_text.delta", **where, delta=piece, logprobs=[])
                elif isinstance(item, Final):
                    final = item
    except (TimeoutError, ApiError) as exc:
        error = (
            exc
            if isinstance(exc, ApiError)
            else ApiError(504, f"The answer took longer than {timeout:g} s.", "timeout_error")
        )
        failed = reply.response(None, warnings, "failed")
        failed["error"] = {"code": error.code or error.type, "message": error.message}
        yield event("response.failed", response=failed)
        return
    assert final is not None
    text = with_notes(final.content, warnings)
    if not opened:
        started = reply.message("", "in_progress")
        yield event("response.output_item.added", output_index=0, item=started)
        yield event("response.content_part.added", **where, part=empty_part)
    for piece in word_chunks(text[len(sent) :] if text.startswith(sent) else ""):
        yield event("response.output_text.delta", **where, delta=piece, logprobs=[])
    yield event("response.output_text.done", **where, text=text, logprobs=[])
    part = {"type": "output_text", "text": text, "annotations": []}
    yield event("response.content_part.done", **where, part=part)
    yield event("response.output_item.done", output_index=0, item=reply.message(text))
    yield event("response.completed", response=reply.response(final, warnings))
