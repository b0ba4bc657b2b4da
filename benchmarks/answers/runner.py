"""Run a question set through the graph with ``arag eval``'s runner and judge every turn."""

from __future__ import annotations

import tempfile
import time
from typing import Any

from arag.evaluation.runner import (
    Variant,
    build_eval_graph,
    ingest_passages,
    judge_model,
    run_variant,
)
from benchmarks.answers.scoring import judge, summarize
from benchmarks.answers.sets import QuestionSet


def _context(data_dir: str) -> Any:
    """The graph's settings from the environment (a model if one is configured), this index."""
    from arag.console import context

    return context(data_dir, None)


def _ingest(qset: QuestionSet, data_dir: str, embeddings: Any) -> None:
    if qset.files:
        from tools.ingest.pipeline import ingest

        ingest([str(p) for p in qset.files], data_dir, embeddings)
    if qset.dataset.passages:
        ingest_passages(qset.dataset.passages, data_dir, embeddings)


def run_set(qset: QuestionSet) -> dict:
    """Ingest the set's corpus into a temporary index, ask every question, return the figures.

    The result holds the summary (:func:`benchmarks.answers.scoring.summarize`), the mode
    (``offline`` or the model), the seconds taken and one row per question.
    """
    from tools.embeddings import load_embeddings

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"arag-answers-{qset.name}-") as tmp:
        ctx = _context(tmp)
        embeddings = load_embeddings(ctx.embeddings)
        _ingest(qset, tmp, embeddings)
        graph = build_eval_graph(ctx, embeddings)
        mode = "offline" if judge_model(ctx) is None else (ctx.model or "model")
        result = run_variant(graph, ctx, qset.dataset, Variant("as_given", "question as given"))
    items = {item.id: item for item in qset.dataset.items}
    rows, judged = [], []
    for row in result.rows:
        item = items[row["id"]]
        verdict = judge(qset, item, row["outputs"])
        judged.append(verdict)
        rows.append(
            {
                "id": item.id,
                "kind": verdict.kind,
                "language": verdict.language,
                "question": item.question,
                "answers": item.answers,
                "answer": row["outputs"].get("answer", ""),
                "route": verdict.route,
                "correct": verdict.correct,
                "cited": [c.get("source") for c in row["outputs"].get("cited") or []],
                "citations_right": verdict.citations_right,
            }
        )
    rows.sort(key=lambda r: r["id"])
    return {
        "set": qset.name,
        "mode": mode,
        "seconds": round(time.perf_counter() - started, 1),
        "summary": summarize(judged),
        "rows": rows,
    }
