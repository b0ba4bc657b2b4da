"""Request latency with LangSmith tracing off vs on-but-unreachable.

Ingests the bundled sample corpus into a temporary directory, then answers the sample questions
offline (no LLM) ``--rounds`` times in each mode, each mode in a fresh process (langsmith reads
its environment once per process):

* ``off``: ``LANGSMITH_TRACING`` unset;
* ``closed``: tracing on, ``LANGSMITH_ENDPOINT`` at a closed port (connection refused);
* ``blackhole``: tracing on, the endpoint a socket that accepts nothing (connections hang).

Prints p50 / p90 per request and the number of failed requests. Run from the repository root::

    PYTHONPATH=. python benchmarks/tracing_overhead.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("off", "closed", "blackhole")


def measure(data_dir: str, rounds: int) -> dict:
    """Answer the sample questions ``rounds`` times; latencies in ms and failures."""
    return asyncio.run(_measure(data_dir, rounds))


async def _measure(data_dir: str, rounds: int) -> dict:
    """:func:`measure` on one event loop, as a server runs the graph (``graph.ainvoke``)."""
    from langchain_core.messages import HumanMessage

    from graph.builder import build_graph
    from graph.config import Context

    sample = json.loads((ROOT / "arag/sample_questions.json").read_text(encoding="utf-8"))
    questions = [q["question"] for q in sample]
    ctx = Context(data_dir=data_dir, model="offline", web_search="none")
    graph = build_graph(chat_model=None)
    # Warm-up: load the models.
    await graph.ainvoke({"messages": [HumanMessage(questions[0])]}, context=ctx)
    latencies, failures = [], 0
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            try:
                await graph.ainvoke({"messages": [HumanMessage(question)]}, context=ctx)
            except Exception:
                failures += 1
            latencies.append((time.perf_counter() - started) * 1000)
    return {"latencies": latencies, "failures": failures}


def run_mode(mode: str, data_dir: str, rounds: int) -> dict:
    """Run :func:`measure` in a fresh process with the environment of ``mode``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_"))}
    env["PYTHONPATH"] = str(ROOT)
    hole = None
    if mode != "off":
        if mode == "blackhole":
            hole = socket.socket()
            hole.bind(("127.0.0.1", 0))
            hole.listen(0)  # never accepted: the client's connect/read hangs until its timeout
            port = hole.getsockname()[1]
        else:
            port = 9  # nothing listens: connection refused
        env |= {
            "LANGSMITH_TRACING": "true",
            "LANGSMITH_ENDPOINT": f"http://127.0.0.1:{port}",
            "LANGSMITH_API_KEY": "lsv2-benchmark-key",
        }
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", data_dir, "--rounds", str(rounds)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
        ).stdout
    finally:
        if hole:
            hole.close()
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Ingest once, measure each mode, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="passes over the sample questions")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.rounds)), flush=True)
        # Skip langsmith's exit-time flush: with an unreachable endpoint it retries undeliverable
        # batches for minutes. That delays process exit, not requests; see the README.
        os._exit(0)

    from tools.embeddings import load_embeddings
    from tools.ingest.pipeline import ingest

    with tempfile.TemporaryDirectory() as data_dir:
        ingest([str(ROOT / "arag/sample_corpus")], data_dir, load_embeddings("wordllama"))
        print(f"{'mode':<10} {'requests':>8} {'failed':>6} {'p50 ms':>8} {'p90 ms':>8}")
        for mode in MODES:
            result = run_mode(mode, data_dir, args.rounds)
            ms = sorted(result["latencies"])
            p90 = ms[int(0.9 * (len(ms) - 1))]
            print(
                f"{mode:<10} {len(ms):>8} {result['failures']:>6} "
                f"{statistics.median(ms):>8.1f} {p90:>8.1f}"
            )


if __name__ == "__main__":
    main()
