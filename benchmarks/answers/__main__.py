"""``python -m benchmarks.answers``: see the package docstring."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmarks.answers.report import figures, write
from benchmarks.answers.runner import run_set
from benchmarks.answers.sets import ROOT, SETS, load_sets


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; a bad set name or limit is a usage error."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.answers", description=__doc__)
    parser.add_argument(
        "--dataset", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}"
    )
    parser.add_argument("--limit", type=int, help="first N questions per set (realistic: per kind)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="report directory"
    )
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    args.sets = [name.strip() for name in args.dataset.split(",") if name.strip()]
    unknown = [name for name in args.sets if name not in SETS]
    if unknown or not args.sets:
        named = ", ".join(unknown) or "(none)"
        parser.error(f"--dataset: unknown set(s) {named}; choose from {', '.join(SETS)}")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run the sets, write the report, print the figures as JSON on the last line."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    args = parse_args(argv)
    command = "python -m benchmarks.answers " + " ".join(argv if argv is not None else sys.argv[1:])
    results = []
    for qset in load_sets(args.sets, args.limit):
        print(f"answers: {qset.name}, {len(qset.dataset.items)} questions", file=sys.stderr)
        results.append(run_set(qset))
    md, js = write(results, args.out, command.strip())
    print(md.read_text(encoding="utf-8"))
    print(f"wrote {md} and {js}")
    out = figures(results)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
