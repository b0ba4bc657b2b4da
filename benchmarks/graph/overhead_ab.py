"""Graph overhead of two checkouts, back to back: ``python -m benchmarks.graph.overhead_ab A B``.

The overhead figure of ``make bench-graph`` (zero-latency fakes, time outside index searches)
moves by more between two runs of the same code on a shared machine than most changes save. So
this runs it for two checkouts (folders holding a copy of the repository, e.g. made with
``git worktree add``), each in its own process, alternating ``--rounds`` times, and prints each
round's p50 per scenario with the load average. Run it from this repository's venv.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SCENARIOS = "abcdef"

# Run inside each checkout, so its own graph and nodes are imported.
_ONE_ROUND = """
import json, os, statistics, sys, tempfile
from benchmarks.graph.__main__ import ZERO, _index
from benchmarks.graph.runner import OURS, Setup, run_once
from benchmarks.graph.scenarios import BY_KEY

runs = int(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp:
    index, embeddings = _index(tmp)
    setup = Setup(index, embeddings, ZERO)
    out = {}
    for key in sys.argv[2]:
        run_once(OURS, BY_KEY[key], setup, latency=ZERO)  # warm-up
        timed = [run_once(OURS, BY_KEY[key], setup, latency=ZERO) for _ in range(runs)]
        ms = [(r.seconds - r.retrieval_seconds) * 1000 for r in timed]
        out[key] = round(statistics.median(ms), 1)
print(json.dumps({"p50_ms": out, "load": round(os.getloadavg()[0], 2)}))
"""


def one_round(checkout: Path, runs: int, scenarios: str) -> dict:
    """Overhead p50 per scenario for ``checkout``, measured in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="arag-ab-") as tmp:
        script = Path(tmp) / "round.py"
        script.write_text(_ONE_ROUND)
        proc = subprocess.run(
            [sys.executable, str(script), str(runs), scenarios],
            cwd=checkout,
            env={**os.environ, "PYTHONPATH": str(checkout)},
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Alternate the two checkouts and print one JSON line per checkout and round."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.graph.overhead_ab", description=__doc__)
    ap.add_argument("before", type=Path, help="checkout measured first in each round")
    ap.add_argument("after", type=Path, help="checkout measured second in each round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=15, help="runs per scenario and round")
    ap.add_argument("--scenarios", default=SCENARIOS)
    args = ap.parse_args(argv)
    for folder in (args.before, args.after):
        if not (folder / "benchmarks" / "graph" / "runner.py").is_file():
            ap.error(f"{folder} is not a checkout of this repository")
    for round_no in range(1, args.rounds + 1):
        for label, folder in (("before", args.before), ("after", args.after)):
            row = one_round(folder.resolve(), args.runs, args.scenarios)
            print(json.dumps({"round": round_no, "checkout": label, **row}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
