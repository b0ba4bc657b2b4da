"""The closed-loop load driver: N clients, each sending its next request when the last is done.

A level keeps going until at least ``min_requests`` requests were sent *and* ``min_seconds``
have passed, so fast and slow hosts both get a meaningful sample, but stops sending after
``max_seconds`` (a host that needs a second per request would otherwise take minutes).
Latency is per request, from send to the last byte. A sampler thread reads the RSS and CPU
time of the watched processes (psutil) every 50 ms: a thread, so a busy event loop cannot
delay the samples.

Three ways to send one request, all ``async (n) -> None`` that raise on failure:
``chat_completions`` (``/v1`` over HTTP), ``sdk_runs_wait`` (the LangGraph API, a threadless
run) and ``graph_ainvoke`` (the compiled graph in this process).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
Send = Callable[[int], Awaitable[None]]
SAMPLE_EVERY = 0.05


def sample_questions() -> list[str]:
    """The bundled sample questions (``arag/sample_questions.json``), in file order."""
    entries = json.loads((ROOT / "arag" / "sample_questions.json").read_text("utf-8"))
    return [e["question"] for e in entries]


class RequestFailed(Exception):
    """A request that came back but is not a usable answer; the message is the error kind."""


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


class ProcessSampler:
    """Peak RSS (process plus children) and CPU seconds of some processes, from a thread.

    The process tree is listed once, at the start: listing children scans all of ``/proc``,
    which 20 times a second would cost the machine under test noticeable CPU.
    """

    def __init__(self, pids: list[int], *, sample_rss: bool = True, children: bool = True):
        """Watch ``pids`` (and their children, unless not ``children``) until ``stop()``.

        CPU only if not ``sample_rss``.
        """
        import psutil

        self._tree = []
        for pid in pids:
            process = psutil.Process(pid)
            self._tree += [process, *(process.children(recursive=True) if children else [])]
        self._stop = threading.Event()
        self.peak_rss = 0
        self._cpu_start = self._cpu()
        self._thread = threading.Thread(target=self._run, daemon=True) if sample_rss else None
        if self._thread:
            self._thread.start()

    def _cpu(self) -> float:
        import psutil

        total = 0.0
        for p in self._tree:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            rss = 0
            for p in self._tree:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_rss = max(self.peak_rss, rss)
            self._stop.wait(SAMPLE_EVERY)

    def stop(self) -> tuple[int, float]:
        """Stop sampling; peak RSS in bytes and CPU seconds used since the start."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        return self.peak_rss, self._cpu() - self._cpu_start


async def run_level(
    send: Send,
    concurrency: int,
    *,
    min_requests: int = 200,
    min_seconds: float = 10.0,
    max_seconds: float = 300.0,
    watch: list[int] | None = None,
) -> dict[str, Any]:
    """``concurrency`` clients calling ``send`` until the level is long enough; the figures.

    ``watch``: pids whose peak RSS and CPU time are reported (the server; this process if
    omitted). This process's CPU time is reported too: the load client shares the cores.
    ``max_seconds`` stops sending new requests on a host that has stalled.
    """
    import os

    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    started = time.perf_counter()

    def more() -> bool:
        elapsed = time.perf_counter() - started
        if elapsed >= max_seconds:
            return False
        return sent < min_requests or elapsed < min_seconds

    async def client() -> None:
        nonlocal sent
        while more():
            n = sent
            sent += 1
            t0 = time.perf_counter()
            try:
                await send(n)
            except Exception as exc:  # noqa: BLE001 - every failure is counted by its kind
                kind = str(exc) if isinstance(exc, RequestFailed) else type(exc).__name__
                errors[kind] = errors.get(kind, 0) + 1
            else:
                latencies.append(time.perf_counter() - t0)

    # This process alone: the servers and the LLM stub it started are its children, and their
    # CPU is not the load client's (nor the in-process graph's).
    sampler = ProcessSampler(watch) if watch else ProcessSampler([os.getpid()], children=False)
    own = ProcessSampler([os.getpid()], sample_rss=False, children=False) if watch else sampler
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    peak_rss, cpu_seconds = sampler.stop()
    client_cpu = own.stop()[1] if own is not sampler else cpu_seconds
    latencies.sort()

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "concurrency": concurrency,
        "requests": sent,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": round(elapsed, 2),
        "req_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": ms(percentile(latencies, 50)) if latencies else None,
        "p99_ms": ms(percentile(latencies, 99)) if latencies else None,
        "mean_ms": ms(statistics.fmean(latencies)) if latencies else None,
        "peak_rss_mb": round(peak_rss / 2**20, 1),
        "cpu_ms_per_request": round(cpu_seconds * 1000 / sent, 1) if sent else None,
        "client_cpu_ms_per_request": round(client_cpu * 1000 / sent, 1) if sent else None,
    }


def chat_body(question: str, stream: bool) -> dict[str, Any]:
    """A stateless ``/v1/chat/completions`` request for ``question``."""
    return {
        "model": "adaptive-rag",
        "messages": [{"role": "user", "content": question}],
        "stream": stream,
    }


def chat_completions(client: Any, questions: list[str], *, stream: bool = False) -> Send:
    """POST ``/v1/chat/completions`` with ``client`` (an ``httpx.AsyncClient``), read it all.

    A 200 without an answer (no choices, or no ``[DONE]`` when streaming) or with the graph's
    ``error`` route counts as an error, as in the other two senders.
    """

    async def send(n: int) -> None:
        reply = await client.post(
            "/v1/chat/completions", json=chat_body(questions[n % len(questions)], stream)
        )
        body = await reply.aread()
        if reply.status_code != 200:
            raise RequestFailed(f"HTTP {reply.status_code}")
        if stream:
            if b"data: [DONE]" not in body or b'{"error"' in body:
                raise RequestFailed("stream without an answer")
            if b'"route": "error"' in body:
                raise RequestFailed("graph error")
            return
        answer = json.loads(body)
        if not answer.get("choices"):
            raise RequestFailed("no answer")
        if answer.get("route") == "error":
            raise RequestFailed("graph error")

    return send


def sdk_runs_wait(client: Any, questions: list[str], assistant_id: str) -> Send:
    """``client.runs.wait`` on a threadless run (``langgraph_sdk``): the run's final values."""

    async def send(n: int) -> None:
        values = await client.runs.wait(
            None,
            assistant_id,
            input={"messages": [{"role": "user", "content": questions[n % len(questions)]}]},
            raise_error=True,
        )
        if not isinstance(values, dict) or "answer" not in values:
            raise RequestFailed("no answer")
        if values.get("route") == "error":
            raise RequestFailed("graph error")

    return send


def graph_ainvoke(graph: Any, context: Any, questions: list[str]) -> Send:
    """``graph.ainvoke`` in this process, with the same input the server gives the graph."""

    async def send(n: int) -> None:
        out = await graph.ainvoke(
            {"messages": [{"role": "user", "content": questions[n % len(questions)]}]},
            context=context,
        )
        if "answer" not in out:
            raise RequestFailed("no answer")
        if out.get("route") == "error":
            raise RequestFailed("graph error")

    return send
