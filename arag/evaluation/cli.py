"""``arag eval``: evaluate the graph on a dataset, or sweep its confidence thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from arag.console import Model, context, err, out


def eval_command(
    dataset: Annotated[
        Path,
        typer.Argument(help="SQuAD .json, HotpotQA / Belebele / plain {question, answers} .jsonl"),
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="squad, hotpotqa, belebele or jsonl (default: detected)"),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N questions")] = None,
    data_dir: Annotated[
        str | None,
        typer.Option(
            "--data-dir",
            help="Index the dataset's passages here (kept); default: a temporary directory",
        ),
    ] = None,
    model: Model = None,
    k: Annotated[int | None, typer.Option(help="Documents per query")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Report directory")] = Path("eval-results"),
    sweep: Annotated[
        bool,
        typer.Option("--sweep", help="Vary the confidence thresholds; plot accuracy vs retrieval"),
    ] = False,
    upload: Annotated[
        bool,
        typer.Option(
            "--upload", help="Upload examples and results to LangSmith (needs LANGSMITH_API_KEY)"
        ),
    ] = False,
) -> None:
    """Run the graph over a dataset with langsmith.evaluate; write a markdown + JSON report.

    Nothing leaves the machine unless you ask: with --upload (and LANGSMITH_API_KEY set) the
    examples and results go to a LangSmith dataset and experiment.
    """
    import os

    os.environ.setdefault("TQDM_DISABLE", "1")  # langsmith's tqdm bar; rich draws ours
    from arag.evaluation.datasets import DatasetError, load_dataset
    from arag.evaluation.report import write_report
    from arag.evaluation.runner import corpus_dir, run_eval

    if limit is not None and limit < 1:
        raise typer.BadParameter("--limit must be at least 1")
    if upload and not os.environ.get("LANGSMITH_API_KEY"):
        err.print("[red]error:[/red] --upload needs LANGSMITH_API_KEY in the environment")
        raise typer.Exit(code=2)
    try:
        data = load_dataset(dataset, fmt).limited(limit)
    except DatasetError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    if not data.items:
        err.print(f"[red]error:[/red] {dataset}: no questions")
        raise typer.Exit(code=2)
    if not data.passages and not data_dir:
        err.print(
            f"[red]error:[/red] {dataset} has no passages; give --data-dir with an ingested index"
        )
        raise typer.Exit(code=2)

    with corpus_dir(data_dir) as directory, _progress() as bar:

        def on_start(label: str, total: int):
            task = bar.add_task(label, total=total)
            return lambda n: bar.advance(task, n)

        ctx = context(directory, model, k=k)
        if sweep:
            paths = _sweep(data, ctx, on_start, out_dir)
        else:
            run = run_eval(data, ctx, on_start=on_start, upload=upload)
            paths = write_report(run, out_dir)
    if not sweep:
        out.print(paths[0].read_text(encoding="utf-8"))
    for path in paths:
        out.print(f"wrote {path}")


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]eval[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


def _sweep(data, ctx, on_start, out_dir: Path) -> list[Path]:
    import time

    from arag.evaluation.runner import build_eval_graph, ingest_passages, judge_model
    from arag.evaluation.sweep import plot_sweep, run_sweep, sweep_markdown
    from tools.embeddings import load_embeddings

    embeddings = load_embeddings(ctx.embeddings)
    if data.passages:
        ingest_passages(data.passages, ctx.data_dir, embeddings)
    if judge_model(ctx) is not None:  # a model is configured
        return _calibrate(data, ctx, embeddings, on_start, out_dir)
    offline = True
    points = run_sweep(
        build_eval_graph(ctx, embeddings), ctx, data, offline=offline, on_start=on_start
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"{data.name}-sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    png = plot_sweep(points, stem.with_suffix(".png"), data.name)
    table = sweep_markdown(points, data, offline)
    md = stem.with_suffix(".md")
    md.write_text(table + f"\n![accuracy vs retrieval rate]({png.name})\n", encoding="utf-8")
    out.print(table)
    return [md, png]


def _calibrate(data, ctx, embeddings, on_start, out_dir: Path) -> list[Path]:
    """With a model: measure each question once, then sweep every threshold per method."""
    import asyncio
    import time

    from arag.evaluation.calibration import (
        calibrate,
        calibration_markdown,
        sweep,
        write_calibration,
    )
    from arag.evaluation.runner import build_eval_graph
    from tools.index import open_index

    graph = build_eval_graph(ctx, embeddings)
    index = open_index(ctx.data_dir, embeddings)
    progress = on_start("calibration", len(data.items))
    observations = asyncio.run(calibrate(data, ctx, graph, index, progress))
    points = sweep(observations, ctx)
    model = ctx.model or "model"
    stem = out_dir / f"{data.name}-calibration-{time.strftime('%Y%m%d-%H%M%S')}"
    paths = write_calibration(points, observations, data, model, stem)
    out.print(calibration_markdown(points, observations, data, model))
    return paths
