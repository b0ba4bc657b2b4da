"""Start the hosts as real processes: ``arag serve``, ``langgraph dev`` and the LLM stub.

The servers run offline (``ARAG_MODEL=offline``, provider keys and server keys removed from the
environment, so ``arag serve`` binds 127.0.0.1 without auth) over the same data directory, on a
free localhost port, with their logs in ``log_dir``, which must be outside the repository:
``langgraph dev``'s file watcher would otherwise see the log grow. ``arag serve`` can instead
talk to the simulated LLM (:mod:`benchmarks.serve.llm_stub`, started by :func:`llm_stub`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0
STUB_MODEL = "openai:stub"
STUB_API_KEY = "sk-bench-not-secret"  # the stub ignores it; the OpenAI SDK insists on one
# Provider, tracing and server settings from the caller's shell must not reach the servers.
SCRUBBED = (
    "OPENAI_API_KEY",
    "GROQ_API_KEY",
    "ARAG_API_KEY",
    "ARAG_BASE_URL",
    "ARAG_API_KEYS",
    "ARAG_API_KEYS_FILE",
    "ARAG_POSTGRES_DSN",
    "DATABASE_URL",
    "TAVILY_API_KEY",
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
)


class HostError(RuntimeError):
    """A server did not start; the message ends with the tail of its log."""


@dataclass
class Host:
    """A running server process."""

    name: str
    proc: subprocess.Popen
    url: str
    log_path: Path

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log."""
        return self.log_path.read_text(errors="replace")[-chars:]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def llm_env(data_dir: Path, base_url: str) -> dict[str, str]:
    """:func:`offline_env`, but with the model served by the LLM stub at ``base_url``."""
    return offline_env(data_dir) | {
        "ARAG_MODEL": STUB_MODEL,
        "ARAG_BASE_URL": base_url,
        "OPENAI_API_KEY": STUB_API_KEY,
    }


def offline_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment minus keys, plus offline mode over ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(
        ARAG_DATA_DIR=str(data_dir),
        ARAG_MODEL="offline",
        ARAG_WEB_SEARCH="none",
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def _wait_ready(host: Host, probe: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if host.proc.poll() is not None:
            raise HostError(f"{host.name} exited with {host.proc.returncode}:\n{host.log_tail()}")
        try:
            if httpx.get(host.url + probe, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise HostError(f"{host.name} not ready after {START_TIMEOUT:g} s:\n{host.log_tail()}")


def _stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (requests in flight finish), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def _running(name: str, argv: list[str], env: dict[str, str], log_dir: Path, probe: str, port: int):
    log_path = log_dir / f"{name.replace(' ', '-')}-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    host = Host(name, proc, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_ready(host, probe)
        yield host
    finally:
        _stop(proc)


@contextmanager
def arag_serve(data_dir: Path, log_dir: Path, llm_base_url: str | None = None) -> Iterator[Host]:
    """``arag serve`` (uvicorn, the ``/v1`` app), ready once ``/readyz`` answers 200.

    Offline, or with ``llm_base_url`` (the stub's ``.../v1``) as its OpenAI-compatible model.
    """
    port = free_port()
    argv = [sys.executable, "-m", "arag.cli", "serve", "--port", str(port)]
    env = llm_env(data_dir, llm_base_url) if llm_base_url else offline_env(data_dir)
    with _running("arag serve", argv, env, log_dir, "/readyz", port) as host:
        yield host


@contextmanager
def llm_stub(
    log_dir: Path, base_ms: float, per_100_tokens_ms: float, *extra: str
) -> Iterator[Host]:
    """The simulated LLM (:mod:`benchmarks.serve.llm_stub`), ready once ``/v1/models`` answers.

    Its own process, so its event loop does not share a GIL with the load client or the graph.
    ``extra`` are more of its options (``--token-ms 80``, ``--quote``, ...).
    """
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "benchmarks.serve.llm_stub",
        "--port",
        str(port),
        "--base-ms",
        f"{base_ms:g}",
        "--per-100-tokens-ms",
        f"{per_100_tokens_ms:g}",
        *extra,
    ]
    env = offline_env(log_dir)  # no keys; ARAG_DATA_DIR is unused by the stub
    with _running("llm stub", argv, env, log_dir, "/v1/models", port) as host:
        yield host


@contextmanager
def langgraph_dev(data_dir: Path, log_dir: Path) -> Iterator[Host]:
    """``langgraph dev --no-browser --no-reload`` serving ``langgraph.json`` (graph and /v1)."""
    cli = Path(sys.executable).with_name("langgraph")
    found = str(cli) if cli.exists() else shutil.which("langgraph")
    if not found:
        raise HostError("the langgraph CLI is not installed (pip install -e '.[dev]')")
    port = free_port()
    argv = [found, "dev", "--no-browser", "--no-reload", "--port", str(port)]
    with _running("langgraph dev", argv, offline_env(data_dir), log_dir, "/ok", port) as host:
        yield host
