"""``arag workspace``: show a workspace's settings, and set or drop its score thresholds."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from arag.console import DataDir, context, err, one_line, out, require_workspace

Threshold = Annotated[float | None, typer.Option(min=0.0, max=1.0)]


def workspace(
    name: Annotated[
        str | None,
        typer.Argument(help="The workspace (default: env ARAG_WORKSPACE, else 'default')"),
    ] = None,
    data_dir: DataDir = None,
    probe_strong: Threshold = None,
    probe_weak: Threshold = None,
    relevance_threshold: Threshold = None,
    probe_weak_cjk: Threshold = None,
    relevance_threshold_cjk: Threshold = None,
    answer_coverage: Threshold = None,
    answer_coverage_cjk: Threshold = None,
    unset: Annotated[
        list[str] | None,
        typer.Option("--unset", help="Drop the workspace's value of this threshold (repeatable)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Show a workspace's corpus language and score thresholds; the options set its own.

    A workspace's threshold replaces the service-wide one (environment, else default) for
    every question asked in it; a value passed at run time still wins. Running servers use
    the new values from their next question.
    """
    from tools.workspace_settings import (
        SCORE_THRESHOLDS,
        WorkspaceSettingsError,
        read_thresholds,
        write_thresholds,
    )

    ctx = context(data_dir, None, workspace=name)
    require_workspace(ctx)
    given = {
        "probe_strong": probe_strong,
        "probe_weak": probe_weak,
        "relevance_threshold": relevance_threshold,
        "probe_weak_cjk": probe_weak_cjk,
        "relevance_threshold_cjk": relevance_threshold_cjk,
        "answer_coverage": answer_coverage,
        "answer_coverage_cjk": answer_coverage_cjk,
    }
    changes: dict[str, float | None] = {k: v for k, v in given.items() if v is not None}
    for dropped in unset or []:
        if dropped.replace("-", "_") not in SCORE_THRESHOLDS:
            raise typer.BadParameter(
                f"{dropped!r} is no threshold: use {', '.join(SCORE_THRESHOLDS)}",
                param_hint="--unset",
            )
        changes.setdefault(dropped.replace("-", "_"), None)
    try:
        own = write_thresholds(ctx.index_dir(), changes) if changes else None
        own = own if own is not None else read_thresholds(ctx.index_dir())
    except (WorkspaceSettingsError, OSError) as exc:
        err.print(f"[red]error:[/red] {one_line(str(exc))}")
        raise typer.Exit(code=2) from None
    effective = ctx.with_workspace_thresholds(own)
    report = {
        "workspace": ctx.workspace,
        "language": _corpus_language(ctx),
        "thresholds": {
            n: {"value": getattr(effective, n), "from": "workspace" if n in own else "service"}
            for n in SCORE_THRESHOLDS
        },
    }
    if as_json:
        out.print(json.dumps(report), markup=False)
        return
    out.print(f"workspace {ctx.workspace}  corpus language: {report['language'] or 'unknown'}")
    for n, row in report["thresholds"].items():
        out.print(f"  {n:<24} {row['value']:<6g} ({row['from']})")


def _corpus_language(ctx) -> str | None:
    """The language the workspace's index records (None for none yet, or a Weaviate tenant)."""
    from tools.index.base import IndexError_
    from tools.index.lance import META_FILE, read_meta

    path = ctx.index_dir() / META_FILE
    if ctx.index_backend != "lancedb" or not path.exists():
        return None
    try:
        return read_meta(path).language
    except IndexError_:
        return None
