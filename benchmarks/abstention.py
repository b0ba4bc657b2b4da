"""``python -m benchmarks.abstention``: fit the offline abstention thresholds on held-out splits.

For each split set of :mod:`arag.evaluation.splits` (XQuAD-en and Belebele-en for English,
Belebele-ko for Korean, measured apart) it observes every question once
(:func:`arag.evaluation.abstention.observe`), fits on the fit halves and reports the held-out
halves at three settings: no coverage check with the floor used before this calibration, the
configured thresholds (``graph/config.py``), and the fitted ones. Writes
``benchmarks/results/abstention.{md,json}``.

* English: ``answer_coverage`` is fitted with the floor held at the configured
  ``max(probe_weak, relevance_threshold)``: those two also decide when a model is asked at all
  (``arag eval --sweep`` calibrates them with a model), and lowering or raising them moves
  every English set, not only the near misses. The floor's fit is reported beside it;
* Korean: the floor (``probe_weak_cjk`` = ``relevance_threshold_cjk``) and
  ``answer_coverage_cjk`` are fitted together; nothing else uses them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from arag.evaluation.abstention import COVERAGE_GRID, FLOOR_GRID, fit, observe, outcome
from arag.evaluation.splits import SPLITS, load_split

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {"en": ("xquad-split", "belebele-en"), "ko": ("belebele-ko",)}
"""Fitted together: the English sets; Korean (character-pair scoring) on its own."""
BEFORE = {"en": 0.45, "ko": 0.45}
"""The effective floor before this calibration: max(probe_weak 0.35, relevance 0.45)."""


def _configured(ctx, language: str) -> tuple[float, float]:
    if language == "ko":
        return max(ctx.probe_weak_cjk, ctx.relevance_threshold_cjk), ctx.answer_coverage_cjk
    return max(ctx.probe_weak, ctx.relevance_threshold), ctx.answer_coverage


def main(argv: list[str] | None = None) -> dict:
    """Observe, fit, report; prints the markdown and returns the figures."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.abstention", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    from graph.config import Context
    from tools.embeddings import load_embeddings

    ctx = Context()
    embeddings = load_embeddings(ctx.embeddings)
    observed = {}
    for name in SPLITS:
        print(f"abstention: observing {name}", file=sys.stderr)
        observed[name] = observe(load_split(name), ctx, embeddings)
    results: dict = {"command": "python -m benchmarks.abstention", "groups": {}}
    for language, names in GROUPS.items():
        sets = {n: observed[n] for n in names}
        configured_floor = _configured(ctx, language)[0]
        floors = FLOOR_GRID if language == "ko" else (configured_floor,)
        floor, cov, score = fit(sets, floors=floors, coverages=COVERAGE_GRID)
        both = fit(sets, floors=FLOOR_GRID, coverages=COVERAGE_GRID)
        settings = {
            "before (no coverage check)": (BEFORE[language], 0.0),
            "configured": _configured(ctx, language),
            "fitted": (floor, cov),
        }
        if language != "ko":
            settings["floor and coverage fitted together"] = both[:2]
        rows = []
        for name in names:
            for part in ("fit", "held"):
                obs = [o for o in sets[name] if o.part == part]
                for label, (f, c) in settings.items():
                    o = outcome(obs, f, c)
                    rows.append(
                        {
                            "set": name,
                            "part": part,
                            "setting": label,
                            "floor": f,
                            "coverage": c,
                            "questions": o.questions,
                            "answerable_right": round(o.answerable_right, 3),
                            "near_miss_declined": round(o.near_miss_declined, 3),
                            "balanced": round(o.balanced, 3),
                        }
                    )
        results["groups"][language] = {
            "sets": list(names),
            "fitted": {"floor": floor, "coverage": cov, "balanced_fit": round(score, 4)},
            "fitted_together": {
                "floor": both[0],
                "coverage": both[1],
                "balanced_fit": round(both[2], 4),
            },
            "configured": dict(zip(("floor", "coverage"), _configured(ctx, language), strict=True)),
            "rows": rows,
        }
    md, js = _write(results, args.out)
    print(md.read_text(encoding="utf-8"))
    print(f"wrote {md} and {js}")
    return results


def _write(results: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Offline abstention thresholds, fitted on held-out splits",
        "",
        f"`{results['command']}`. Near misses: questions whose passage was left out of the "
        "corpus while the rest of their article (XQuAD) or set (Belebele) stays in "
        "(`arag/evaluation/splits.py`). *answerable right*: answered, and the answer holds the "
        "reference (XQuAD) or cites the gold passage (Belebele); *near miss declined*: "
        'answered "insufficient". *floor*: the calibrated score both the probe and a '
        "document need (`probe_weak`, `relevance_threshold`); *coverage*: `answer_coverage`. "
        "Fitted on the *fit* halves (best mean balanced accuracy over the group's sets), "
        "reported on the *held* halves. Measured without the graph's query rewrites, so the "
        "shares differ a little from `make bench-answers`. Floors observed: "
        + ", ".join(f"{f:g}" for f in FLOOR_GRID)
        + ".",
        "",
    ]
    for language, group in results["groups"].items():
        f = group["fitted"]
        c = group["configured"]
        lines += [
            f"## {'Korean (CJK)' if language == 'ko' else 'English'}: {', '.join(group['sets'])}",
            "",
            f"Fitted: floor {f['floor']:g}, coverage {f['coverage']:g} (balanced accuracy on "
            f"the fit halves {f['balanced_fit']:.3f}; floor and coverage fitted together: "
            f"{group['fitted_together']['floor']:g}, {group['fitted_together']['coverage']:g}, "
            f"{group['fitted_together']['balanced_fit']:.3f}). Configured: floor "
            f"{c['floor']:g}, coverage {c['coverage']:g}.",
            "",
            "| set | half | setting | floor | coverage | questions | answerable right | "
            "near miss declined | balanced |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['set']} | {r['part']} | {r['setting']} | {r['floor']:g} | {r['coverage']:g} "
            f"| {r['questions']} | {r['answerable_right']:.3f} | {r['near_miss_declined']:.3f} "
            f"| {r['balanced']:.3f} |"
            for r in group["rows"]
        ]
        lines.append("")
    md = out / "abstention.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    js = out / "abstention.json"
    js.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return md, js


if __name__ == "__main__":
    main()
