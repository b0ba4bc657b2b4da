"""Calibration with a model: answer accuracy against retrieval rate for every threshold.

The retrieve-or-not decision depends on three numbers per question: the corpus probe's score,
the model's closed-book confidence (by logprobs, or as the model states it), and whether the
closed-book answer is right. Each is measured once per question:

1. the probe: the hybrid search the ``probe_corpus`` node runs (no LLM);
2. the closed-book answer and its confidence, once per method (``logprobs``, ``verbalized``),
   with the graph's own prompts;
3. the answer the graph gives when it retrieves (one run with ``probe_strong=0``).

A threshold setting then decides, per question, which of the two answers the user would get,
so every point of a sweep costs no further model call. The graph retrieves when the probe is
at least ``probe_strong`` or the model is below ``confidence_high`` (``confidence_low`` only
matters when retrieval then finds nothing, which this sweep does not model).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from arag.evaluation.datasets import Dataset, Item
from arag.evaluation.metrics import answer_recall
from arag.evaluation.runner import LLMUsage

CONFIDENCE_GRID = (0.0, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99, 1.01)
PROBE_GRID = (0.0, 0.3, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 1.01)
METHODS = ("logprobs", "verbalized")


@dataclasses.dataclass
class Observation:
    """What one question gave: the probe, each method's closed-book try, the retrieved answer."""

    id: str
    probe: float
    confidence: dict[str, float]
    """Closed-book confidence by method (0 when the model abstained)."""
    closed_book_correct: dict[str, bool]
    """Whether the closed-book answer holds a reference answer, by method."""
    retrieval_correct: bool
    retrieval_llm_calls: int


@dataclasses.dataclass
class Point:
    """One threshold setting and what it gives over all questions."""

    method: str
    threshold: str
    value: float
    retrieval_rate: float
    accuracy: float


async def observe(graph: Any, ctx: Any, llm: Any, index: Any, item: Item) -> Observation:
    """Measure one question (see the module docstring); ``ctx`` is the graph's context."""
    from langchain_core.messages import HumanMessage

    from arag.turn import run_turn
    from graph import prompts
    from tools.index.search import search
    from tools.llm.closed_book import closed_book_answer
    from tools.llm.errors import provider_errors

    hits = await asyncio.to_thread(search, index, item.question, ctx.k, multihop=ctx.multihop)
    confidence, correct = {}, {}
    for method in METHODS:
        try:
            result = await closed_book_answer(
                llm,
                item.question,
                logprob_prompt=prompts.CLOSED_BOOK_LOGPROB,
                verbalized_prompt=prompts.CLOSED_BOOK_VERBALIZED,
                logprobs=method == "logprobs",
            )
        except provider_errors():  # as the graph does: a failed try is an abstention
            confidence[method], correct[method] = 0.0, False
            continue
        confidence[method] = 0.0 if result.abstained else result.confidence
        correct[method] = bool(result.answer) and answer_recall(result.answer, item.answers) > 0
    usage = LLMUsage()
    turn = await run_turn(
        graph,
        {"messages": [HumanMessage(item.question)]},
        {"callbacks": [usage], "recursion_limit": 50},
        context=dataclasses.replace(ctx, probe_strong=0.0),
    )
    return Observation(
        item.id,
        hits[0]["score"] if hits else 0.0,
        confidence,
        correct,
        answer_recall(turn.answer, item.answers) > 0,
        usage.calls,
    )


def sweep(observations: list[Observation], ctx: Any) -> list[Point]:
    """Every grid point, per method: ``confidence_high`` (probe off), then ``probe_strong``."""
    points = []
    for method in METHODS:
        high, _ = ctx.confidence_thresholds(method)
        for value in CONFIDENCE_GRID:  # the model alone decides: the probe never forces it
            points.append(_point(observations, method, "confidence_high", value, 2.0, value))
        for value in PROBE_GRID:  # the probe beside the model at its default threshold
            points.append(_point(observations, method, "probe_strong", value, value, high))
    return points


def _point(
    observations: list[Observation],
    method: str,
    name: str,
    value: float,
    probe_strong: float,
    confidence_high: float,
) -> Point:
    retrieved, correct = [], []
    for o in observations:
        retrieve = o.probe >= probe_strong or o.confidence[method] < confidence_high
        retrieved.append(retrieve)
        correct.append(o.retrieval_correct if retrieve else o.closed_book_correct[method])
    n = len(observations) or 1
    return Point(method, name, value, sum(retrieved) / n, sum(correct) / n)


async def calibrate(
    dataset: Dataset,
    ctx: Any,
    graph: Any,
    index: Any,
    on_done: Callable[[int], None] | None = None,
) -> list[Observation]:
    """Observe every question of ``dataset``, one after another (a local server is serial).

    The model is built here, inside the running event loop: its async HTTP client's pooled
    connections belong to the loop that opened them.
    """
    from arag.evaluation.runner import judge_model

    llm = judge_model(ctx)
    if llm is None:
        raise ValueError("calibration needs a model (ARAG_MODEL or --model)")
    observations = []
    for item in dataset.items:
        observations.append(await observe(graph, ctx, llm, index, item))
        if on_done:
            on_done(1)
    return observations


def calibration_markdown(
    points: list[Point], observations: list[Observation], dataset: Dataset, model: str
) -> str:
    """The sweep as tables, one per method and threshold, with how to read them."""
    calls = statistics.fmean(o.retrieval_llm_calls for o in observations) if observations else 0
    lines = [
        f"# Calibration: {dataset.name}, model {model}",
        "",
        f"{len(observations)} questions. Accuracy: a reference answer occurs in the answer the "
        "user gets (SQuAD-normalised). Retrieving costs "
        f"{calls:.1f} LLM calls per question here; answering closed-book costs 1.",
        "",
        "Closed-book accuracy: "
        + ", ".join(
            f"{m} {statistics.fmean(o.closed_book_correct[m] for o in observations):.3f}"
            for m in METHODS
        )
        + f"; with retrieval: {statistics.fmean(o.retrieval_correct for o in observations):.3f}.",
        "",
    ]
    for method in METHODS:
        for name in ("confidence_high", "probe_strong"):
            rows = [p for p in points if p.method == method and p.threshold == name]
            lines += [
                f"## {method}: {name}",
                "",
                "| value | retrieval rate | accuracy |",
                "|---|---|---|",
                *(f"| {p.value:g} | {p.retrieval_rate:.2f} | {p.accuracy:.3f} |" for p in rows),
                "",
            ]
    return "\n".join(lines)


def write_calibration(
    points: list[Point],
    observations: list[Observation],
    dataset: Dataset,
    model: str,
    stem: Path,
) -> list[Path]:
    """``<stem>.md``, ``.json`` (every observation) and ``.png`` (the curves)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    md = stem.with_suffix(".md")
    md.write_text(
        calibration_markdown(points, observations, dataset, model)
        + f"\n![accuracy vs retrieval rate]({stem.name}.png)\n",
        encoding="utf-8",
    )
    js = stem.with_suffix(".json")
    js.write_text(
        json.dumps(
            {
                "dataset": dataset.name,
                "model": model,
                "points": [dataclasses.asdict(p) for p in points],
                "observations": [dataclasses.asdict(o) for o in observations],
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return [md, js, _plot(points, stem.with_suffix(".png"), f"{dataset.name} ({model})")]


def _plot(points: list[Point], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    for method, color in zip(METHODS, ("#3465a4", "#cc0000"), strict=True):
        for name, style in (("confidence_high", "o-"), ("probe_strong", "s--")):
            rows = [p for p in points if p.method == method and p.threshold == name]
            ax.plot(
                [p.retrieval_rate for p in rows],
                [p.accuracy for p in rows],
                style,
                color=color,
                alpha=0.8,
                label=f"{method}: {name}",
            )
    ax.set_xlabel("retrieval rate (share of questions retrieved)")
    ax.set_ylabel("answer accuracy")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
