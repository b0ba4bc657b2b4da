"""A URL download has an overall deadline: a server that drips bytes cannot hold ingest.

The dripping server is a local socket server (127.0.0.1, so no DNS and no traffic off the
machine) that sends one byte every 0.2 s, forever: always within the per-read timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress

import pytest
from typer.testing import CliRunner

from arag.cli import app
from tools.ingest.loaders import LoaderError
from tools.ingest.url_loader import load_url

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"


def drip_server(head_too: bool) -> Iterator[str]:
    """Drips the body (or, with ``head_too``, the status line and headers as well)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, suppress(OSError):
            conn.recv(4096)
            if not head_too:
                conn.sendall(HEAD)
            payload = HEAD + b"x" * 100_000 if head_too else b"x" * 100_000
            for byte in payload:
                if stop.wait(0.2):
                    return
                conn.sendall(bytes([byte]))

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/page.txt"
    finally:
        stop.set()
        listener.close()


@pytest.fixture(params=[False, True], ids=["body", "headers"])
def dripping(request) -> Iterator[str]:
    yield from drip_server(request.param)


def test_a_dripping_server_is_cut_off_at_the_deadline(dripping, fault_ledger):
    with fault_ledger.fault("ingest", "URL server drips one byte at a time") as f:
        started = time.monotonic()
        with pytest.raises(LoaderError) as caught:
            load_url(dripping, allow_private=True, timeout=5, deadline=1.5)
        took = time.monotonic() - started
        f.observe("gave up by the deadline", took < 1.5 + 1.0, expected=True)
        f.observe(
            "message",
            "did not finish within 1.5 s" in caught.value.reason
            and "ARAG_URL_DEADLINE" in caught.value.reason,
            expected=True,
        )


def test_ingest_skips_the_slow_url_and_keeps_the_rest(tmp_path, monkeypatch, fault_ledger):
    monkeypatch.setenv("ARAG_MODEL", "offline")
    monkeypatch.setenv("ARAG_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("ARAG_URL_DEADLINE", "1")
    good = tmp_path / "good.md"
    good.write_text("# Good\n\nThis file is fine and must be ingested.\n", "utf-8")
    for url in drip_server(head_too=False):
        with fault_ledger.fault("ingest", "CLI: a dripping URL next to a good file") as f:
            started = time.monotonic()
            result = CliRunner().invoke(
                app, ["ingest", url, str(good), "--data-dir", str(tmp_path / "index")]
            )
            f.observe("exit code", result.exit_code, expected=0)
            f.observe("finished promptly", time.monotonic() - started < 30, expected=True)
            f.observe(
                "one line for the URL", "did not finish within 1 s" in result.output, expected=True
            )
            f.observe("good file ingested", "1 file ok, 1 failed" in result.output, expected=True)
