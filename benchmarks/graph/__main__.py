"""``make bench-graph``: our graph against the LangGraph tutorial design, one run, all scenarios.

    python -m benchmarks.graph [--runs 20] [--base-ms 300] [--per-100-tokens-ms 5] [--parallel 8]

Prints a line per scenario and a PASS/FAIL per target, writes ``benchmarks/results/graph.md``,
``graph.json`` and ``graph_*.png``; the last line of stdout is one line of JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import sys
import tempfile
from pathlib import Path

from benchmarks.graph import report
from benchmarks.graph.baseline import RECURSION_LIMIT
from benchmarks.graph.baseline import K as BASELINE_K
from benchmarks.graph.counting_model import Latency
from benchmarks.graph.runner import BASELINE, OURS, Setup, p50, run_many, run_once, summarize
from benchmarks.graph.scenarios import BY_KEY
from graph.config import Context

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CORPUS = ROOT / "arag" / "sample_corpus"
ZERO = Latency(0.0, 0.0)

NOTES = [
    "- Tokens: document text dominates both bills. The tutorial reads every retrieved chunk whole "
    "to grade it, and the relevant ones whole again to answer and to check. Ours reads "
    "query-focused excerpts (tools/text/excerpts.py): the grader the sentences matching the "
    "searched queries (ARAG_GRADE_EXCERPT_CHARS, 500), the writer the sentences matching the "
    "question (ARAG_CONTEXT_EXCERPT_CHARS, 1500), the checker only the cited documents, cut to "
    "the sentences their claims need. Ours also retrieves k=5 against the tutorial's 4.",
    "- Confident closed-book latency: the tutorial's cheapest fair path for an off-corpus question "
    "is route + generate + two graders (4 calls), so any one-call design is at best ~0.25× of it; "
    "the 0.2× target holds only against the tutorial's vectorstore route (8+ calls).",
    "- Concurrency: the corpus probe runs in the same step as translate_question when the question "
    "is in the corpus language; then translation needs no LLM call, so the saving is the "
    "translate step's own time (language detection, well under a millisecond) and is within "
    "noise. A Korean question must be translated before the probe. Starting the closed-book call "
    "next to the probe would hide the probe's ~20 ms but add an LLM call to every path where the "
    "probe is strong (happy path 4 calls), so it is not done.",
    "- Overhead is spread over every step: about 1 ms per model call in LangChain's runnable and "
    "callback layers (even with a zero-latency fake), 0.2-1 ms per LangGraph step (more for the "
    "parallel step, which uses worker threads), and a few ms of our own per node (language "
    "detection, excerpts, calibrated grading). Scenario (e) runs ~15 steps and 7 calls. Closing "
    "the 5 ms target would need fewer steps per path and model calls outside the runnable stack.",
]


def _index(tmp: str):
    from tools.embeddings import WordLlamaEmbeddings
    from tools.index import open_index
    from tools.ingest.pipeline import ingest

    embeddings = WordLlamaEmbeddings()
    rep = ingest([str(SAMPLE_CORPUS)], tmp, embeddings)
    if rep.files_failed:
        raise SystemExit(f"could not ingest the sample corpus: {rep.files_failed}")
    return open_index(tmp, embeddings), embeddings


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _overhead_ms(runs) -> float:
    return round(p50([r.seconds - r.retrieval_seconds for r in runs]) * 1000, 2)


def measure(keys: list[str], setup: Setup, runs: int, parallel: int, log) -> dict:
    """Every measurement of every scenario."""
    measured = {}
    for key in keys:
        s = BY_KEY[key]
        zero = {}
        for kind in (OURS, BASELINE):
            run_once(kind, s, setup, latency=ZERO)  # warm-up: caches, lazy imports
            zero[kind] = [run_once(kind, s, setup, latency=ZERO) for _ in range(runs)]
        jobs = []
        for _ in range(runs):  # interleaved, so drift in machine load hits all three alike
            jobs.append(functools.partial(run_once, OURS, s, setup))
            jobs.append(functools.partial(run_once, OURS, s, setup, max_concurrency=1))
            jobs.append(functools.partial(run_once, BASELINE, s, setup))
        done = run_many(jobs, parallel)
        ours, sequential, base = done[0::3], done[1::3], done[2::3]
        measured[key] = {
            "ours": summarize(ours),
            "baseline": summarize(base),
            "sequential_p50_ms": round(p50([r.seconds for r in sequential]) * 1000, 2),
            "ours_overhead_p50_ms": _overhead_ms(zero[OURS]),
            "baseline_overhead_p50_ms": _overhead_ms(zero[BASELINE]),
        }
        m = measured[key]
        log(
            f"({key}) {s.title}: calls {m['ours']['calls']} vs {m['baseline']['calls']}"
            f"{'' if m['baseline']['finished'] else ' (stopped)'}, tokens {m['ours']['tokens']} vs "
            f"{m['baseline']['tokens']}, p50 {m['ours']['p50_ms']:.0f} vs "
            f"{m['baseline']['p50_ms']:.0f} ms, overhead {m['ours_overhead_p50_ms']} ms, "
            f"route {m['ours']['route']}"
        )
    return measured


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 0 even when a target fails (the report says which)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.graph", description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="runs per scenario and graph")
    parser.add_argument("--base-ms", type=float, default=300.0, help="simulated ms per LLM call")
    parser.add_argument(
        "--per-100-tokens-ms", type=float, default=5.0, help="simulated ms per 100 output tokens"
    )
    parser.add_argument("--web-ms", type=float, default=0.0, help="simulated web search ms")
    parser.add_argument("--parallel", type=int, default=4, help="runs overlapping at a time")
    parser.add_argument("--scenarios", default="abcdef", help="which scenarios, e.g. 'ab'")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    keys = [k for k in args.scenarios if k in BY_KEY]
    if args.runs < 1 or not keys:
        parser.error("need --runs ≥ 1 and at least one scenario of a-f")

    def log(line: str) -> None:
        print(line, flush=True)

    with tempfile.TemporaryDirectory(prefix="arag-bench-graph-") as tmp:
        index, embeddings = _index(tmp)
        setup = Setup(
            index,
            embeddings,
            Latency(args.base_ms, args.per_100_tokens_ms),
            args.web_ms / 1000,
            RECURSION_LIMIT,
        )
        measured = measure(keys, setup, args.runs, args.parallel, log)
    rows = report.build_rows(measured)
    results = {
        "graph": {
            "settings": {
                "date": dt.date.today().isoformat(),
                "runs": args.runs,
                "base_ms": args.base_ms,
                "per_100_tokens_ms": args.per_100_tokens_ms,
                "web_ms": args.web_ms,
                "parallel": args.parallel,
                "ours_k": Context().k,
                "baseline_k": BASELINE_K,
                "recursion_limit": RECURSION_LIMIT,
                "token_estimate": "ceil(chars / 4), tool schemas included",
            },
            "rows": rows,
            "notes": NOTES,
        }
    }
    results["graph"]["targets"] = report.targets(rows)
    for t in results["graph"]["targets"]:
        log(f"{'PASS' if t['pass'] else 'FAIL'} {t['target']}: {t['value']}")
    written = report.write(results, args.out)
    log(
        "wrote "
        + ", ".join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in written)
    )
    summary = {
        "bench": "graph",
        "passed": sum(t["pass"] for t in results["graph"]["targets"]),
        "failed": sum(not t["pass"] for t in results["graph"]["targets"]),
        "scenarios": {
            k: {
                "calls": [r["ours"]["calls"], r["baseline"]["calls"]],
                "tokens": [r["ours"]["tokens"], r["baseline"]["tokens"]],
                "p50_ms": [r["ours"]["p50_ms"], r["baseline"]["p50_ms"]],
            }
            for k, r in rows.items()
        },
        "report": _shown(args.out / "graph.md"),
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
