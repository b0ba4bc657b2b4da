"""Idle and slow anonymous clients cannot exhaust ``arag serve`` (raw sockets, a real server).

- a connection that sends nothing, or drips its request head a byte at a time, is closed
  once ``ARAG_HEADER_TIMEOUT`` has passed, and meanwhile a client with a key gets its answer
  in its normal time;
- a request without a key gets its 401 before the server reads the body;
- past ``ARAG_MAX_CONNECTIONS`` the server answers 503 at once, and recovers when the idle
  connections are gone.

``ARAG_IDLE_CONNECTIONS`` sets how many idle connections to open (default 300; ``make
reliability`` uses 1,000).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from contextlib import ExitStack, suppress
from urllib.parse import urlsplit

import httpx
import pytest

from tests.serving import arag_serve, copy_index

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

KEY = "alice-key-0123456789abcdef"
IDLE = int(os.environ.get("ARAG_IDLE_CONNECTIONS", "300"))
SLOW = 50
HEADER_TIMEOUT = 2.0
QUESTION = {
    "model": "adaptive-rag",
    "messages": [{"role": "user", "content": "What year did Tesla die?"}],
}


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


def connect(url: str, stack: ExitStack) -> socket.socket:
    sock = stack.enter_context(socket.create_connection(address(url), timeout=5))
    return sock


def closed_by_server(sock: socket.socket, wait: float) -> bool:
    """Whether the server closed ``sock`` (EOF or reset) within ``wait`` seconds."""
    sock.settimeout(wait)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def timed_answer(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    reply = httpx.post(
        url + "/v1/chat/completions",
        json=QUESTION,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    )
    return reply.status_code, time.perf_counter() - started


@pytest.fixture
def server(sample_data_dir, tmp_path):
    data = copy_index(sample_data_dir, tmp_path / "data")
    env = {"ARAG_API_KEYS": f"alice:{KEY}", "ARAG_HEADER_TIMEOUT": str(HEADER_TIMEOUT)}
    with arag_serve(data, tmp_path, **env) as process:
        timed_answer(process.url)  # warm: models and index loaded
        yield process


def test_idle_and_slow_connections_are_closed_and_a_keyed_client_is_served(server, fault_ledger):
    _, baseline = timed_answer(server.url)
    with (
        fault_ledger.fault("http", f"{IDLE} idle + {SLOW} slow-header connections") as f,
        ExitStack() as stack,
    ):
        idle = [connect(server.url, stack) for _ in range(IDLE)]
        slow = [connect(server.url, stack) for _ in range(SLOW)]
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        stop = threading.Event()

        def drip() -> None:  # one header byte per connection every 0.3 s, never finishing
            while not stop.wait(0.3):
                for sock in slow:
                    with suppress(OSError):
                        sock.sendall(b"X")

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        try:
            status, during = timed_answer(server.url)
            f.observe("keyed client status", status, expected=200)
            f.observe(
                "keyed client within its normal time",
                during < max(3 * baseline, baseline + 2),
                expected=True,
            )
            time.sleep(HEADER_TIMEOUT + 1)
            f.observe(
                "idle connections closed by the server",
                sum(closed_by_server(s, 2.0) for s in idle),
                expected=IDLE,
            )
            f.observe(
                "slow-header connections closed by the server",
                sum(closed_by_server(s, 2.0) for s in slow),
                expected=SLOW,
            )
        finally:
            stop.set()
            dripper.join()
    print(f"baseline {baseline:.2f} s, with {IDLE} idle + {SLOW} slow: {during:.2f} s")


def test_a_request_without_a_key_is_refused_before_its_body_is_read(server, fault_ledger):
    with fault_ledger.fault("http", "anonymous request with a slow 100 kB body") as f:
        with socket.create_connection(address(server.url), timeout=10) as sock:
            started = time.perf_counter()
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
            )
            head = sock.recv(4096)
            waited = time.perf_counter() - started
            # The head and the body may arrive in separate segments: read the body it announces.
            length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))
            while len(head.split(b"\r\n\r\n", 1)[-1]) < length:
                more = sock.recv(4096)
                if not more:
                    break
                head += more
        f.observe("status line", head.split(b"\r\n", 1)[0], expected=b"HTTP/1.1 401 Unauthorized")
        f.observe("answered before the body", waited < 2.0, expected=True)
        assert b"Missing API key" in head.split(b"\r\n\r\n", 1)[-1]


def test_past_the_connection_limit_the_server_answers_503_and_recovers(
    sample_data_dir, tmp_path, fault_ledger
):
    data = copy_index(sample_data_dir, tmp_path / "data")
    env = {
        "ARAG_API_KEYS": f"alice:{KEY}",
        "ARAG_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "ARAG_MAX_CONNECTIONS": "20",
    }
    with (
        arag_serve(data, tmp_path, **env) as srv,
        fault_ledger.fault("http", "more idle connections than ARAG_MAX_CONNECTIONS") as f,
        ExitStack() as stack,
    ):
        assert "connections: at most 20 open" in srv.log()
        for _ in range(25):
            connect(srv.url, stack)
        time.sleep(0.3)
        started = time.perf_counter()
        busy = httpx.get(srv.url + "/healthz", timeout=10)
        f.observe("status while full", busy.status_code, expected=503)
        f.observe("answered at once", time.perf_counter() - started < 1.0, expected=True)
        time.sleep(HEADER_TIMEOUT + 1)  # the idle ones are closed by the header deadline
        status, _ = timed_answer(srv.url)
        f.observe("status once the idle connections are closed", status, expected=200)
