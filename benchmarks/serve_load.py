"""Load test for ``arag serve``: N concurrent clients, req/s and latency percentiles.

    PYTHONPATH=. .venv/bin/python benchmarks/serve_load.py --url http://127.0.0.1:8000 \
        --concurrency 32 --requests 640 [--key KEY] [--stream] [--json]

Each client sends the sample questions in turn (stateless chat completions, the usual load of a
chat UI that keeps its own history) and waits for the full answer; latency is per request,
from send to the last byte. Start the server first, e.g. ``ARAG_MODEL=offline arag serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

import httpx

QUESTIONS = [
    "What year did Tesla die?",
    "When did Carl Wilhelm Scheele discover oxygen?",
    "Who did Tesla partner with in 1886?",
    "What is the capital of France?",
]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


async def run(url: str, concurrency: int, total: int, key: str | None, stream: bool) -> dict:
    """Send ``total`` requests over ``concurrency`` connections; the figures as a dict."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(total))

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as c:
        # One warm-up request loads the embeddings and opens the index.
        await c.post("/v1/chat/completions", json=_body(QUESTIONS[0], False))

        async def client() -> None:
            for n in counter:
                started = time.perf_counter()
                try:
                    reply = await c.post(
                        "/v1/chat/completions", json=_body(QUESTIONS[n % 4], stream)
                    )
                    await reply.aread()
                    ok = reply.status_code == 200
                    kind = str(reply.status_code)
                except httpx.HTTPError as exc:
                    ok, kind = False, type(exc).__name__
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[kind] = errors.get(kind, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "concurrency": concurrency,
        "requests": total,
        "ok": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "req_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "stream": stream,
    }


def _body(question: str, stream: bool) -> dict:
    return {
        "model": "adaptive-rag",
        "messages": [{"role": "user", "content": question}],
        "stream": stream,
    }


def main() -> int:
    """Parse arguments, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=640)
    parser.add_argument("--key", default=None, help="API key, if the server has ARAG_API_KEYS")
    parser.add_argument("--stream", action="store_true", help="stream the answers (SSE)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.concurrency, args.requests, args.key, args.stream))
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['ok']}/{result['requests']} ok, {result['concurrency']} clients, "
            f"{result['req_per_s']} req/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms"
            + (f", errors {result['errors']}" if result["errors"] else "")
        )
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
