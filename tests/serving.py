"""Process-starting helpers for the serving tests: ``arag serve``, ``langgraph dev``, a scratch
PostgreSQL database. Real processes on free localhost ports, logs kept for failure messages.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_DSN = os.environ.get(
    "ARAG_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Provider and server settings from the developer's shell must not leak into a test server.
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
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(
        ARAG_DATA_DIR=str(data_dir),
        ARAG_MODEL="offline",
        LANGSMITH_TRACING="false",
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


@dataclass
class Process:
    proc: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM (graceful), then SIGKILL if it hangs; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def _wait_up(process: Process, probe: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            pytest.fail(f"server exited early:\n{process.log()[-3000:]}")
        try:
            if httpx.get(process.url + probe, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.stop()
    pytest.fail(f"server did not start:\n{process.log()[-3000:]}")


def start_arag_serve(
    data_dir: Path, log_dir: Path, *, args: tuple[str, ...] = (), **env: str
) -> Process:
    """Launch ``arag serve`` on a free port without waiting for it."""
    port = free_port()
    log_path = log_dir / f"arag-serve-{port}-{uuid.uuid4().hex[:6]}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "arag.cli", "serve", "--port", str(port), *args],
            cwd=ROOT,
            env=server_env(data_dir, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Process(proc, f"http://127.0.0.1:{port}", log_path)


@contextmanager
def arag_servers(count: int, data_dir: Path, log_dir: Path, **env: str) -> Iterator[list[Process]]:
    """``count`` ``arag serve`` processes started together, each ready (``/readyz`` 200)."""
    processes = [start_arag_serve(data_dir, log_dir, **env) for _ in range(count)]
    try:
        for process in processes:
            _wait_up(process, "/readyz", 90)
        yield processes
    finally:
        for process in processes:
            process.stop()


@contextmanager
def arag_serve(data_dir: Path, log_dir: Path, **env: str) -> Iterator[Process]:
    """One ready ``arag serve``, stopped (SIGTERM) on exit."""
    with arag_servers(1, data_dir, log_dir, **env) as (process,):
        yield process


@contextmanager
def langgraph_dev(data_dir: Path, log_dir: Path, **env: str) -> Iterator[Process]:
    """``langgraph dev --no-browser --no-reload`` on a free port, stopped after."""
    cli = Path(sys.executable).with_name("langgraph")
    if not cli.exists():
        cli = shutil.which("langgraph")
    if not cli:
        pytest.skip("langgraph CLI not installed (pip install -e '.[dev]')")
    port = free_port()
    # The log lives outside the project: the dev server's file watcher would otherwise reload.
    log_path = log_dir / "langgraph-dev.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(cli), "dev", "--no-browser", "--no-reload", "--port", str(port)],
            cwd=ROOT,
            env=server_env(data_dir, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    process = Process(proc, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_up(process, "/ok", 90)
        yield process
    finally:
        process.stop()


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database; its DSN. Skips when PostgreSQL is not reachable."""
    import psycopg

    name = f"arag_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_DSN} (.ci/run starts it)")
    try:
        yield PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_index(sample_data_dir: Path, dest: Path) -> Path:
    """A private copy of the sample index, so a server's threads.sqlite stays with its test."""
    shutil.copytree(sample_data_dir, dest, ignore=shutil.ignore_patterns("threads.sqlite*"))
    return dest
