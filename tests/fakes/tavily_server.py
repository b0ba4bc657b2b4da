"""A scripted local stand-in for the Tavily search API (``POST /search``).

The real ``tavily.TavilyClient`` talks to it through its ``api_base_url`` parameter, so tests
exercise the actual request body, the response format and the SDK's error mapping::

    with FakeTavilyServer() as tavily:
        tavily.script(TavilyReply.results(("Paris", "https://en.wikipedia.org/wiki/Paris", "...")))
        client = TavilyClient(api_key="tvly-test", api_base_url=tavily.url)

Each request pops the next :class:`TavilyReply`; an empty queue answers with ``default``
(no results unless set). Every request body and its headers are recorded.

Wire format, as documented at docs.tavily.com (API reference, ``/search``):

* 200: ``{"query", "answer", "images", "results": [{"title", "url", "content", "score",
  "raw_content", "favicon"}], "response_time", "request_id"}``;
* errors: ``{"detail": {"error": "..."}}`` with 400 (bad request), 401 (invalid key),
  429 (rate limit), 432 (plan limit), 433 (pay-as-you-go limit), 500 (server error).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERROR_TEXT = {
    400: "Invalid request: query is required.",
    401: "Unauthorized: missing or invalid API key.",
    429: "Your request has been blocked due to excessive requests.",
    432: "This request exceeds your plan's set usage limit.",
    433: "This request exceeds the pay-as-you-go limit.",
    500: "Internal server error.",
}


@dataclass
class TavilyReply:
    """One scripted response. Build with the classmethods."""

    results: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    fault: str | None = None  # "malformed_body"
    delay: float = 0.0

    @classmethod
    def results_of(cls, *items: tuple[str, str, str]) -> TavilyReply:
        """Results from ``(title, url, content)`` triples, scored in decreasing order."""
        return cls(
            results=[
                {
                    "title": title,
                    "url": url,
                    "content": content,
                    "score": round(0.9 - 0.1 * i, 3),
                    "raw_content": None,
                    "favicon": None,
                }
                for i, (title, url, content) in enumerate(items)
            ]
        )

    @classmethod
    def error(cls, status: int) -> TavilyReply:
        """An HTTP error with Tavily's ``{"detail": {"error": ...}}`` body."""
        return cls(status=status)

    @classmethod
    def malformed_body(cls) -> TavilyReply:
        """HTTP 200 whose body is not JSON."""
        return cls(fault="malformed_body")

    @classmethod
    def slow(cls, seconds: float) -> TavilyReply:
        """Answer (with no results) only after ``seconds``: for client timeouts."""
        return cls(delay=seconds)


@dataclass
class RecordedSearch:
    body: dict[str, Any]
    headers: dict[str, str]  # names lowercased


class FakeTavilyServer:
    """Threaded HTTP server on 127.0.0.1 (random port); use as a context manager."""

    def __init__(self, default: TavilyReply | None = None):
        self.default = default or TavilyReply()
        self.requests: list[RecordedSearch] = []
        self._queue: deque[TavilyReply] = deque()
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL for ``TavilyClient(api_base_url=...)`` (the SDK appends ``/search``)."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def script(self, *replies: TavilyReply) -> FakeTavilyServer:
        with self._lock:
            self._queue.extend(replies)
        return self

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> TavilyReply:
        with self._lock:
            self.requests.append(RecordedSearch(body, headers))
            return self._queue.popleft() if self._queue else self.default

    def __enter__(self) -> FakeTavilyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTavilyServer

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/search":
            self._json(404, {"detail": {"error": f"no route {self.path}"}})
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._json(400, {"detail": {"error": "Invalid JSON body."}})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.fake._next(body, headers)
        if reply.delay:
            time.sleep(reply.delay)
        if not headers.get("authorization", "").startswith("Bearer tvly-"):
            self._json(401, {"detail": {"error": ERROR_TEXT[401]}})
            return
        if reply.status != 200:
            self._json(reply.status, {"detail": {"error": ERROR_TEXT.get(reply.status, "error")}})
            return
        if reply.fault == "malformed_body":
            self._send(200, b'{"query": "cut off', "application/json")
            return
        limit = int(body.get("max_results") or 5)
        self._json(
            200,
            {
                "query": body.get("query", ""),
                "follow_up_questions": None,
                "answer": None,
                "images": [],
                "results": reply.results[:limit],
                "response_time": 0.42,
                "request_id": str(uuid.uuid4()),
            },
        )

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _send(self, status: int, data: bytes, ctype: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and closed the connection
