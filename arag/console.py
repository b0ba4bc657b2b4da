"""What the ``arag`` commands share: the consoles, the common options and the run settings.

``arag.cli`` and the subcommand modules (``arag.server.cli``, ``arag.evaluation.cli``) import
these from here and never from each other, so each of them imports on its own.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
"""Standard output: answers, reports, ``--json``."""
err = Console(stderr=True, highlight=False, soft_wrap=True)
"""Standard error: errors, progress bars and the mode line."""

DataDir = Annotated[
    str | None,
    typer.Option("--data-dir", help="Index directory (env ARAG_DATA_DIR, default .arag)"),
]
"""The ``--data-dir`` option."""
Model = Annotated[
    str | None,
    typer.Option("--model", help="provider:model, e.g. openai:gpt-4o-mini; 'offline' for no LLM"),
]
"""The ``--model`` option."""
Workspace = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace: a named collection of documents with its own index (env "
        "ARAG_WORKSPACE, default 'default': the data directory itself)",
    ),
]
"""The ``--workspace`` option."""


def context(data_dir: str | None, model: str | None, **extra: Any):
    """The graph's ``Context`` from the environment, with the flags that were given applied."""
    from graph.config import Context
    from tools.workspaces import WorkspaceNameError, check_workspace

    ctx = Context()
    overrides = {"data_dir": data_dir, "model": model, **extra}
    for key, value in overrides.items():
        if value is not None:
            setattr(ctx, key, value)
    try:
        check_workspace(ctx.workspace)  # from --workspace or ARAG_WORKSPACE
    except WorkspaceNameError as exc:
        raise typer.BadParameter(str(exc), param_hint="--workspace") from None
    return ctx


def require_workspace(ctx) -> None:
    """Exit 2 with the command that creates it when the run's workspace does not exist."""
    from tools.workspaces import workspace_exists

    if not workspace_exists(ctx.data_dir, ctx.workspace):
        err.print(
            f"[red]error:[/red] no workspace {ctx.workspace!r} in {one_line(ctx.data_dir)}. "
            f"Create it with `arag ingest --workspace {ctx.workspace} PATH`."
        )
        raise typer.Exit(code=2)


def index_location(ctx) -> dict[str, Any]:
    """Where the run's workspace lives, as ``ingest``/``prune``/``repair`` keyword arguments."""
    weaviate = None
    if ctx.index_backend == "weaviate":
        from tools.index.weaviate import WeaviateSettings

        weaviate = WeaviateSettings.from_context(ctx)
    return {"backend": ctx.index_backend, "weaviate": weaviate}


def require_model(ctx) -> None:
    """Exit with a clear message when the configured model cannot be built (bad spec, no key)."""
    from graph.services import Services

    try:
        Services().llm(ctx)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None


def mode_line(ctx) -> str:
    """One line saying whether answers come from a model (which) or are extractive."""
    from tools.llm.chat_models import resolve_model_spec

    spec = resolve_model_spec(ctx.model or None)
    if spec is None:
        return (
            "mode: offline — no LLM configured, answers are extractive "
            "(set OPENAI_API_KEY, GROQ_API_KEY or ARAG_MODEL to use a model)"
        )
    return f"mode: llm — {spec}" + (f" at {ctx.base_url}" if ctx.base_url else "")


def one_line(text: str) -> str:
    """``text`` safe to print as part of one line: control characters escaped, no markup."""
    from rich.markup import escape

    return escape("".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text)))
