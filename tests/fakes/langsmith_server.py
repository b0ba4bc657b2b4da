"""A local stand-in for LangSmith's run-ingest API, recording what the real client sends.

A real ``langsmith.Client(api_url=server.url, api_key=...)`` traces to it over HTTP through its
background batching thread, so tests see the actual wire payloads::

    with FakeLangSmithServer() as ls:
        client = Client(api_url=ls.url, api_key="lsv2-test")
        ...  # run something traced with this client
        client.flush()
        runs = ls.runs()  # id -> merged run (post, then patches applied)

Served: ``GET /info`` (multipart ingest enabled, compression off), ``POST /runs/multipart``
(parts named ``post.<id>``, ``patch.<id>``, ``post.<id>.inputs``, ``.outputs``, ...) and
``POST /runs/batch`` (JSON ``{"post": [...], "patch": [...]}``). Anything else answers 200 ``{}``.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INFO = {
    "version": "0.0.0-standin",
    "batch_ingest_config": {
        "use_multipart_endpoint": True,
        "scale_up_qsize_trigger": 1000,
        "scale_up_nthreads_limit": 1,
        "scale_down_nempty_trigger": 4,
        "size_limit": 100,
        "size_limit_bytes": 20_000_000,
    },
    "instance_flags": {"zstd_compression_enabled": False},
}


class FakeLangSmithServer:
    """Threaded HTTP server on 127.0.0.1 (random port); use as a context manager."""

    def __init__(self) -> None:
        self.operations: list[tuple[str, dict[str, Any]]] = []  # ("post"|"patch", run dict)
        self.paths: list[str] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def record(self, operation: str, run: dict[str, Any]) -> None:
        with self._lock:
            self.operations.append((operation, run))

    def runs(self) -> dict[str, dict[str, Any]]:
        """Every run by id: the post merged with its later patches, as LangSmith stores it."""
        merged: dict[str, dict[str, Any]] = {}
        with self._lock:
            for _, run in self.operations:
                current = merged.setdefault(str(run["id"]), {})
                for key, value in run.items():
                    if value is not None:
                        current[key] = value
        return merged

    def __enter__(self) -> FakeLangSmithServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLangSmithServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.fake.paths.append(self.path)
        self._json(200, INFO if self.path.startswith("/info") else {})

    def do_POST(self) -> None:  # noqa: N802
        self.fake.paths.append(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/runs/multipart"):
            self._multipart(raw)
        elif self.path.startswith("/runs/batch"):
            body = json.loads(raw or b"{}")
            for operation in ("post", "patch"):
                for run in body.get(operation) or []:
                    self.fake.record(operation, run)
        self._json(202 if "multipart" in self.path else 200, {})

    def do_PATCH(self) -> None:  # noqa: N802
        self.do_POST()

    def _multipart(self, raw: bytes) -> None:
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        runs: dict[tuple[str, str], dict[str, Any]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition") or ""
            payload = part.get_payload(decode=True) or b""
            pieces = name.split(".")
            if len(pieces) < 2 or pieces[0] not in ("post", "patch"):
                continue  # attachments and feedback are not recorded
            operation, run_id = pieces[0], pieces[1]
            run = runs.setdefault((operation, run_id), {"id": run_id})
            data = json.loads(payload) if payload else None
            if len(pieces) == 2:
                run.update(data or {})
            else:
                run[pieces[2]] = data
        for (operation, _), run in runs.items():
            self.fake.record(operation, run)

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
