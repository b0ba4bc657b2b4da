"""Threshold sweep: answer accuracy against retrieval rate as the confidence thresholds move.

Which threshold decides "retrieve or not" depends on the mode:

* **with a model**, ``confidence_high`` does: at or above it the closed-book answer is returned
  without retrieval. The sweep moves it (``confidence_low`` follows, never above it), so the
  curve shows how much accuracy each point of retrieval rate buys for *this* model;
* **offline** there is no closed-book answer at all; the corpus probe alone decides, and
  ``probe_weak`` is the score under which the corpus is taken not to cover the question. The
  sweep moves it (``probe_strong`` follows, never below it). Offline the curve measures the
  probe, not a model's self-knowledge: a question not retrieved is answered "insufficient".

A threshold at either end gives 100% or 0% retrieval: the failure open-rag and Self-RAG users
hit (self-rag issues 40 and 45). The table and plot show where a setting lands in between.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from arag.evaluation.datasets import Dataset
from arag.evaluation.runner import ProgressFn, Variant, run_variant

OFFLINE_GRID = (0.0, 0.2, 0.3, 0.35, 0.4, 0.45, 0.55, 0.7, 1.01)
MODEL_GRID = (0.0, 0.5, 0.7, 0.85, 0.95, 1.01)
RELEVANCE_GRID = (0.0, 0.3, 0.45, 0.6, 0.8, 1.01)


@dataclasses.dataclass
class SweepPoint:
    """One threshold setting and what it gave."""

    threshold: str
    value: float
    retrieval_rate: float
    accuracy: float
    f1: float
    llm_calls: float
    questions: int


def sweep_contexts(ctx: Any, offline: bool, grid: tuple[float, ...] | None = None):
    """``(threshold name, value, context)`` for every point of the grid."""
    if offline:
        for value in grid or OFFLINE_GRID:
            yield (
                "probe_weak",
                value,
                dataclasses.replace(
                    ctx, probe_weak=value, probe_strong=max(ctx.probe_strong, value)
                ),
            )
        for value in grid or RELEVANCE_GRID:  # offline, the score grades what was retrieved
            yield "relevance_threshold", value, dataclasses.replace(ctx, relevance_threshold=value)
    else:
        for value in grid or MODEL_GRID:
            yield (
                "confidence_high",
                value,
                dataclasses.replace(
                    ctx, confidence_high=value, confidence_low=min(ctx.confidence_low, value)
                ),
            )


def run_sweep(
    graph: Any,
    ctx: Any,
    dataset: Dataset,
    *,
    offline: bool,
    grid: tuple[float, ...] | None = None,
    on_start: Callable[[str, int], ProgressFn] | None = None,
) -> list[SweepPoint]:
    """Evaluate the questions (as given) once per threshold value."""
    variant = Variant("sweep", "question as given")
    points = []
    for name, value, point_ctx in sweep_contexts(ctx, offline, grid):
        progress = on_start(f"{name}={value:g}", len(dataset.items)) if on_start else None
        result = run_variant(graph, point_ctx, dataset, variant, on_done=progress)
        s = result.summary
        points.append(
            SweepPoint(
                name,
                value,
                s.get("retrieved", 0.0),
                s.get("answer_found", 0.0),
                s.get("f1", 0.0),
                s.get("llm_calls", 0.0),
                int(s.get("questions", 0)),
            )
        )
    return points


def sweep_markdown(points: list[SweepPoint], dataset: Dataset, offline: bool) -> str:
    """The sweep as a markdown table with a note on what it measures."""
    what = (
        "offline: `probe_weak` moves (no model answers closed-book, so a question not "
        "retrieved ends as 'insufficient'), then `relevance_threshold` (the calibrated score a "
        "document needs to count as relevant)"
        if offline
        else "with a model: `confidence_high` moves; above it the closed-book answer is kept"
    )
    lines = [
        f"# Threshold sweep: {dataset.name}",
        "",
        f"{len(dataset.items)} questions; {what}. Accuracy = the reference answer occurs in the "
        "answer (SQuAD-normalised).",
        "",
        "| threshold | value | retrieval rate | accuracy | F1 | LLM calls/q |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p.threshold} | {p.value:g} | {p.retrieval_rate:.2f} | {p.accuracy:.3f} | "
        f"{p.f1:.3f} | {p.llm_calls:.1f} |"
        for p in points
    ]
    return "\n".join(lines) + "\n"


def plot_sweep(points: list[SweepPoint], path: str | Path, title: str) -> Path:
    """Accuracy against retrieval rate, one labelled point per threshold value (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=110)
    names = list(dict.fromkeys(p.threshold for p in points))
    for name, color in zip(names, ("#3465a4", "#cc0000", "#4e9a06"), strict=False):
        rows = [p for p in points if p.threshold == name]
        ax.plot(
            [p.retrieval_rate for p in rows],
            [p.accuracy for p in rows],
            "o-",
            color=color,
            label=name,
        )
    if len(names) > 1:
        ax.legend(fontsize=8)
    for p in points:
        ax.annotate(
            f"{p.value:g}",
            (p.retrieval_rate, p.accuracy),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
        )
    ax.set_xlabel("retrieval rate (share of questions retrieved)")
    ax.set_ylabel("answer accuracy")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"{title}: {', '.join(names)} sweep" if points else title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
