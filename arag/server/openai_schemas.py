"""The ``/v1/chat/completions`` wire format: request and response models (validation and schema).

Message content is a string or a list of parts. Text parts (``text``, and an assistant's
``refusal``) are read; any other part (``image_url``, ``input_audio``, ``file``, ...) is accepted
and ignored, and the reply says so (``warnings`` and a note under the answer), since the graph
reads text only.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

MODEL_ID = "adaptive-rag"
MAX_ID_CHARS = 256
TEXT_PARTS = ("text", "input_text", "output_text")
"""Part types whose ``text`` is read (chat, and the Responses API's input and output text)."""


def check_id(value: str, what: str) -> str:
    """``value`` if it is a usable id: 1-256 characters, none of them a control character."""
    if not 1 <= len(value) <= MAX_ID_CHARS:
        raise ValueError(f"{what} must be 1-{MAX_ID_CHARS} characters, got {len(value)}")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in value):
        raise ValueError(f"{what} must not contain control characters")
    return value


class ContentPart(BaseModel):
    """One part of a message's content; only text is read, other kinds are noted and skipped."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(max_length=64)
    text: str | None = None
    refusal: str | None = None

    @model_validator(mode="after")
    def _has_its_text(self) -> ContentPart:
        if self.type in TEXT_PARTS and self.text is None:
            raise ValueError(f"a {self.type!r} part needs a 'text' string")
        if self.type == "refusal" and self.refusal is None:
            raise ValueError("a 'refusal' part needs a 'refusal' string")
        return self

    def read(self) -> str | None:
        """The part's text, or None when it is not text (an image, audio, a file, ...)."""
        if self.type in TEXT_PARTS:
            return self.text
        if self.type == "refusal":
            return self.refusal
        return None


class ChatMessage(BaseModel):
    """One message of the conversation the client sends."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    refusal: str | None = None
    name: str | None = None

    def text(self) -> str:
        """The message as plain text: its text parts, one per line (an assistant's refusal too)."""
        if isinstance(self.content, list):
            return "\n".join(t for p in self.content if (t := p.read()) is not None)
        return self.content or self.refusal or ""

    def ignored(self) -> list[str]:
        """The types of the parts that are not text, in order."""
        if not isinstance(self.content, list):
            return []
        return [p.type for p in self.content if p.read() is None]


class StreamOptions(BaseModel):
    """``stream_options``: ``include_usage`` adds a last chunk with the turn's usage."""

    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The request body. Sampling parameters (temperature, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(MODEL_ID, description=f"Must be {MODEL_ID!r} (see GET /v1/models)")
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: StrictBool = False  # JSON true or false only, as the schema says
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(
        None, ge=1, strict=True, description="Tokens the answer may take"
    )
    max_completion_tokens: int | None = Field(
        None, ge=1, strict=True, description="Same as max_tokens"
    )
    stop: str | list[str] | None = Field(None, description="Up to 4 sequences ending the answer")
    n: int | None = Field(None, ge=1, description="Must be 1: the graph writes one answer")
    user: str | None = Field(None, description="End-user id; logged, not a thread")
    metadata: dict[str, str] | None = Field(
        None,
        description="metadata.thread_id names a stored thread to continue; "
        "metadata.workspace the workspace to answer from",
    )
    filters: dict[str, Any] | None = Field(
        None,
        description="Document filters: source_prefix, tags, file_types, ingested_after, "
        "ingested_before (see the README's Workspaces section)",
    )

    @field_validator("user")
    @classmethod
    def _user_is_an_id(cls, value: str | None) -> str | None:
        return None if value is None else check_id(value, "user")

    @field_validator("stop")
    @classmethod
    def _at_most_four(cls, value: str | list[str] | None) -> list[str] | None:
        stops = [value] if isinstance(value, str) else value
        if stops is not None and len(stops) > 4:
            raise ValueError("at most 4 stop sequences")
        return stops

    def answer_bound(self) -> int | None:
        """The tokens the answer may take (``max_completion_tokens``, else ``max_tokens``)."""
        return self.max_completion_tokens or self.max_tokens


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


class Usage(BaseModel):
    """Tokens of every model call the graph made for the turn (zeros offline)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, usage: dict[str, Any]) -> Usage:
        """From langchain_core's ``UsageMetadata`` (``input_tokens``, ``output_tokens``)."""
        prompt, completion = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=usage.get("total_tokens", prompt + completion),
        )


class ChatCompletion(BaseModel):
    """The non-streaming response, with the graph's structured answer fields added."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    usage: Usage
    citations: list[Citation]
    thread_id: str | None = Field(description="Stored thread, or null for a stateless run")
    route: str = Field(
        description="closed_book, retrieval, web, insufficient, invalid_input, error"
    )
    mode: str = Field(description="llm or offline")
    flags: list[str]
    warnings: list[str] = Field(description="What the request asked that was not done")
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
