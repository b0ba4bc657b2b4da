"""A scripted local stand-in for the OpenAI / Groq chat-completions HTTP API.

Real SDK clients (``ChatOpenAI``, ``ChatGroq``) talk to it over HTTP, so tests exercise the
actual wire format, retries and error mapping::

    with FakeOpenAIServer() as server:
        server.script(Reply.rate_limited(retry_after=1), Reply.say("Paris"))
        model = ChatOpenAI(base_url=server.base_url, api_key="k", model="m")
        ...
        assert len(server.requests) == 2

As a pytest fixture: ``with FakeOpenAIServer() as srv: yield srv``.

Each request pops the next :class:`Reply`; an empty queue answers 400 "no scripted reply"
(never retried, so an unexpected call fails fast). Every request body is recorded.
Served paths: ``/v1/...`` (OpenAI; use ``server.base_url``) and ``/openai/v1/...`` (the
Groq SDK appends that to ``server.url``; use ``server.groq_base_url``).
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted response. Build with the classmethods rather than by hand."""

    text: str = ""
    tool_args: dict[str, Any] | None = None
    raw_args: str | None = None  # tool-call arguments sent verbatim (may be malformed JSON)
    tool_name: str | None = None  # default: the first tool the request offered
    # Per token; a list gives one value per token; None = a server that ignores `logprobs`.
    logprob: float | list[float] | None = -0.01
    tokens: list[str] | None = None  # explicit tokenisation of ``text``
    fault: str | None = None  # see the fault constructors below
    status: int = 200
    retry_after: float | None = None
    delay: float = 0.0
    failed_generation: str = ""

    @classmethod
    def say(cls, text: str, *, logprob: float | list[float] | None = -0.01, tokens=None) -> Reply:
        return cls(text=text, logprob=logprob, tokens=tokens)

    @classmethod
    def tool_call(cls, args: dict[str, Any], *, name: str | None = None) -> Reply:
        return cls(tool_args=args, tool_name=name)

    @classmethod
    def raw_tool_call(cls, raw_args: str, *, name: str | None = None) -> Reply:
        return cls(raw_args=raw_args, tool_name=name)

    @classmethod
    def rate_limited(cls, retry_after: float = 1) -> Reply:
        return cls(fault="status", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls(fault="status", status=status)

    @classmethod
    def malformed_body(cls) -> Reply:
        """HTTP 200 whose body is not JSON."""
        return cls(fault="malformed_body")

    @classmethod
    def tool_use_failed(cls, failed_generation: str) -> Reply:
        """Groq's 400 when the model's tool call does not parse."""
        return cls(fault="tool_use_failed", failed_generation=failed_generation)

    @classmethod
    def slow(cls, seconds: float, then: Reply | None = None) -> Reply:
        """Sleep before answering (``then``, default a plain text reply) -- for timeouts."""
        reply = then or cls(text="late")
        reply.delay = seconds
        return reply

    @classmethod
    def reset(cls) -> Reply:
        """Drop the connection without any response."""
        return cls(fault="reset")

    @classmethod
    def truncated_stream(cls, text: str = "partial answer that never") -> Reply:
        """Stream a few chunks then close mid-body (no ``[DONE]``, no final chunk)."""
        return cls(text=text, fault="truncated_stream")


@dataclass
class RecordedRequest:
    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)  # names lowercased


class FakeOpenAIServer:
    """Threaded HTTP server on 127.0.0.1 (random port); use as a context manager."""

    def __init__(self, model_ids: tuple[str, ...] = ("fake-model",)):
        self.model_ids = model_ids
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True  # a sleeping "slow" reply must not block shutdown
        # A short poll interval keeps shutdown (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        """Base URL for OpenAI clients."""
        return self.url + "/v1"

    @property
    def groq_base_url(self) -> str:
        """Base URL for Groq clients (the SDK appends ``/openai/v1/...``)."""
        return self.url

    def script(self, *replies: Reply) -> FakeOpenAIServer:
        with self._lock:
            self._queue.extend(replies)
        return self

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def _next(self, path: str, body: Any, headers: dict[str, str]) -> Reply | None:
        with self._lock:
            self.requests.append(RecordedRequest(path, body, headers))
            return self._queue.popleft() if self._queue else None

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked SSE, so a cut stream is detectable
    fake: FakeOpenAIServer

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        return

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/").endswith("/v1/models"):
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                for m in self.fake.model_ids
            ]
            return self._json(200, {"object": "list", "data": data})
        return self._json(404, _error("not found", "not_found_error"))

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        if self.path not in ("/v1/chat/completions", "/openai/v1/chat/completions"):
            return self._json(404, _error(f"unknown path {self.path}", "not_found_error"))
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.fake._next(self.path, body, headers)
        if reply is None:
            return self._json(400, _error("fake server: no scripted reply left", "test_error"))
        try:
            self._serve(reply, body if isinstance(body, dict) else {})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing left to tell it

    def _serve(self, reply: Reply, req: dict[str, Any]) -> None:
        time.sleep(reply.delay)
        if reply.fault == "reset":
            # SO_LINGER 0 makes close() send RST instead of a graceful FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if reply.fault == "status":
            headers = {"Retry-After": f"{reply.retry_after:g}"} if reply.retry_after else {}
            kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
            return self._json(reply.status, _error(f"fake {reply.status}", kind), headers)
        if reply.fault == "tool_use_failed":
            err = _error(
                "Failed to call a function. Please adjust your prompt. See "
                "'failed_generation' for more details.",
                "invalid_request_error",
            )
            err["error"].update(code="tool_use_failed", failed_generation=reply.failed_generation)
            return self._json(400, err)
        if reply.fault == "malformed_body":
            return self._send(200, b'{"id": "chatcmpl-broken", "choices": [', "application/json")
        if req.get("stream"):
            return self._stream(reply, req)
        return self._json(200, _completion(reply, req))

    def _stream(self, reply: Reply, req: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": req.get("model", "fake-model"),
        }
        message = _message(reply, req)
        chunks: list[tuple[dict, dict | None]] = [({"role": "assistant", "content": ""}, None)]
        if message.get("tool_calls"):
            chunks.append(({"tool_calls": [dict(message["tool_calls"][0], index=0)]}, None))
        else:
            want_lp = bool(req.get("logprobs")) and reply.logprob is not None
            chunks += [
                ({"content": t["token"]}, {"content": [t]} if want_lp else None)
                for t in _token_logprobs(reply)
            ]
        truncated = reply.fault == "truncated_stream"
        for delta, logprobs in chunks[: max(1, len(chunks) // 2)] if truncated else chunks:
            choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": None}
            self._chunk(dict(base, choices=[choice]))
        if truncated:
            self.close_connection = True  # no terminating 0-chunk: the body is incomplete
            return
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        self._chunk(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": finish}]))
        if (req.get("stream_options") or {}).get("include_usage"):
            self._chunk(dict(base, choices=[], usage=_usage(reply, req)))
        self._chunk("[DONE]")
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, event: Any) -> None:
        data = event if isinstance(event, str) else json.dumps(event)
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)

    def _send(self, status: int, data: bytes, ctype: str, headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _message(reply: Reply, req: dict[str, Any]) -> dict[str, Any]:
    if reply.tool_args is None and reply.raw_args is None:
        return {"role": "assistant", "content": reply.text}
    tools = req.get("tools") or [{"function": {"name": "tool"}}]
    name = reply.tool_name or tools[0]["function"]["name"]
    args = reply.raw_args if reply.raw_args is not None else json.dumps(reply.tool_args)
    call = {"id": "call_fake_1", "type": "function", "function": {"name": name, "arguments": args}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def _tokens(reply: Reply) -> list[str]:
    return reply.tokens if reply.tokens is not None else re.findall(r"\s*\S+", reply.text)


def _token_logprobs(reply: Reply) -> list[dict[str, Any]]:
    tokens = _tokens(reply)
    given = reply.logprob if reply.logprob is not None else 0.0
    values = given if isinstance(given, list) else [given] * len(tokens)
    return [
        {"token": t, "logprob": v, "bytes": list(t.encode()), "top_logprobs": []}
        for t, v in zip(tokens, values, strict=True)
    ]


def _logprobs(reply: Reply, req: dict[str, Any]) -> dict[str, Any] | None:
    if not req.get("logprobs") or reply.logprob is None:
        return None
    is_text = reply.tool_args is None and reply.raw_args is None
    return {"content": _token_logprobs(reply) if is_text else None}


def _usage(reply: Reply, req: dict[str, Any]) -> dict[str, int]:
    prompt = sum(len(str(m.get("content") or "").split()) for m in req.get("messages", []))
    completion = len(_tokens(reply)) or 1
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(reply: Reply, req: dict[str, Any]) -> dict[str, Any]:
    message = _message(reply, req)
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
        "logprobs": _logprobs(reply, req),
    }
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": req.get("model", "fake-model"),
        "choices": [choice],
        "usage": _usage(reply, req),
        "system_fingerprint": "fake",
    }
