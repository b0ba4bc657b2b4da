"""Evaluation reports: one markdown summary for people and one JSON file for tools."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from arag.evaluation.evaluators import GUARANTEE_FLAGS
from arag.evaluation.runner import EvalRun

# Metrics in report order, with the label shown in the markdown table.
METRICS = (
    ("recall_at_1", "R@1"),
    ("recall_at_k", "R@k"),
    ("mrr", "MRR"),
    ("exact_match", "EM"),
    ("f1", "F1"),
    ("answer_found", "answer found"),
    ("llm_correct", "LLM judge"),
    ("grounded", "grounded"),
    ("cited_or_flagged", "cited or flagged"),
    ("retrieved", "retrieval rate"),
    ("llm_calls", "LLM calls/q"),
    ("tokens", "tokens/q"),
    ("latency_p50_s", "p50 s"),
)


def _cell(summary: dict[str, float], key: str, k: int) -> str:
    value = summary.get(f"recall_at_{k}" if key == "recall_at_k" else key)
    if value is None:
        return "–"
    if key in ("llm_calls", "tokens"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def to_json(run: EvalRun) -> dict[str, Any]:
    """The whole run as JSON-friendly data: settings, summaries and per-question rows."""
    return {
        "dataset": {
            "name": run.dataset.name,
            "format": run.dataset.format,
            "questions": len(run.dataset.items),
            "passages": len(run.dataset.passages),
            "corpus_chunks": run.corpus_chunks,
        },
        "settings": run.settings,
        "uploaded_to_langsmith": run.uploaded,
        "seconds": round(run.seconds, 2),
        "variants": [
            {
                "name": r.variant.name,
                "description": r.variant.description,
                "summary": r.summary,
                "rows": r.rows,
            }
            for r in run.results
        ],
    }


def to_markdown(run: EvalRun) -> str:
    """A summary table per variant plus notes on how to read it."""
    k = run.settings.get("k", 5)
    labels = [label.replace("R@k", f"R@{k}") for _, label in METRICS]
    lines = [
        f"# arag eval: {run.dataset.name}",
        "",
        f"{len(run.dataset.items)} questions ({run.dataset.format}), corpus of "
        f"{len(run.dataset.passages)} passages ({run.corpus_chunks} chunks); mode "
        f"{run.settings['mode']}; {run.seconds:.1f} s"
        + ("; uploaded to LangSmith" if run.uploaded else "; offline (not uploaded)"),
        "",
        "| variant | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for r in run.results:
        cells = [_cell(r.summary, key, k) for key, _ in METRICS]
        lines.append(f"| {r.variant.name} | " + " | ".join(cells) + " |")
    lines += ["", *[f"- **{r.variant.name}**: {r.variant.description}" for r in run.results]]
    lines += [
        "",
        "Retrieval scores (R@1, R@k, MRR) rank the passages of the corpus search for the question "
        "as the graph searched it (after translation) against the gold passages. EM and F1 are "
        "the SQuAD metrics; extractive (offline) answers are whole sentences, so their EM is near "
        "zero by construction and *answer found* (the reference occurs in the answer) is the "
        "better guide. *grounded* counts only answers written from documents; *retrieval rate* "
        "is the share of questions for which the graph retrieved.",
        "",
        "*grounded* is checked, supported and cited; *cited or flagged* also counts an honest "
        '"insufficient" and any answer the user is warned about (the target is 1.000).',
        "",
        *_guarantee_lines(run),
        *_route_lines(run),
        "Settings: " + ", ".join(f"{key}={value!r}" for key, value in run.settings.items()),
    ]
    return "\n".join(lines) + "\n"


def _guarantee_lines(run: EvalRun) -> list[str]:
    """How often each guarantee fired, per variant (share of questions)."""
    lines = ["| variant | " + " | ".join(GUARANTEE_FLAGS) + " |", "|---|" + "---|" * 5]
    for r in run.results:
        cells = [f"{r.summary.get(f'fired_{name}', 0.0):.3f}" for name in GUARANTEE_FLAGS]
        lines.append(f"| {r.variant.name} | " + " | ".join(cells) + " |")
    return ["Guarantees fired (share of questions):", "", *lines, ""]


def _route_lines(run: EvalRun) -> list[str]:
    """Per route: questions, LLM calls, tokens and median seconds per question."""
    lines = [
        "| variant | route | questions | LLM calls/q | tokens/q | p50 s |",
        "|---|---|---|---|---|---|",
    ]
    for r in run.results:
        routes: dict[str, list[dict]] = {}
        for row in r.rows:
            routes.setdefault(str(row["outputs"].get("route")), []).append(row["scores"])
        for route, scores in sorted(routes.items()):
            calls = statistics.fmean(s.get("llm_calls", 0.0) for s in scores)
            tokens = statistics.fmean(s.get("tokens", 0.0) for s in scores)
            p50 = statistics.median(s.get("latency_s", 0.0) for s in scores)
            lines.append(
                f"| {r.variant.name} | {route} | {len(scores)} | {calls:.1f} | {tokens:.0f} | "
                f"{p50:.2f} |"
            )
    return ["Per route:", "", *lines, ""]


def write_report(run: EvalRun, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``<dataset>-<timestamp>.md`` and ``.json`` into ``out_dir``; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{run.dataset.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    md, js = out / f"{stem}.md", out / f"{stem}.json"
    md.write_text(to_markdown(run), encoding="utf-8")
    js.write_text(json.dumps(to_json(run), ensure_ascii=False, indent=2, default=str), "utf-8")
    return md, js
