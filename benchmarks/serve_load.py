"""Load test for an already running ``arag serve``: N concurrent clients, req/s and latency.

    PYTHONPATH=. .venv/bin/python benchmarks/serve_load.py --url http://127.0.0.1:8000 \
        --concurrency 32 --requests 640 [--key KEY] [--stream] [--json]

Each client sends the sample questions in turn (stateless chat completions, the usual load of a
chat UI that keeps its own history) and waits for the full answer; latency is per request,
from send to the last byte. Start the server first, e.g. ``ARAG_MODEL=offline arag serve``.
``make bench-serve`` starts the servers itself and compares hosts; both use
``benchmarks/serve/load.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from benchmarks.serve import load


async def run(url: str, concurrency: int, total: int, key: str | None, stream: bool) -> dict:
    """Send ``total`` requests over ``concurrency`` connections; the figures as a dict."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    questions = load.sample_questions()
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as c:
        send = load.chat_completions(c, questions, stream=stream)
        await send(0)  # warm-up: loads the embeddings and opens the index
        result = await load.run_level(send, concurrency, min_requests=total, min_seconds=0)
    # Peak RSS and CPU here would be this client's, not the server's: make bench-serve has those.
    for key in ("peak_rss_mb", "cpu_ms_per_request", "client_cpu_ms_per_request"):
        result.pop(key)
    return result | {"stream": stream}


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
            + (f", errors {result['error_kinds']}" if result["errors"] else "")
        )
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
