"""The ``arag`` commands: ingest, ask, workspace, demo, serve, mcp and eval.

Settings follow the graph's ``Context`` (run-time flag, then environment, then default); the
flags here only cover what people change most often.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from arag.console import (
    DataDir,
    Model,
    Workspace,
    context,
    err,
    index_location,
    mode_line,
    one_line,
    out,
    require_model,
    require_workspace,
)
from arag.evaluation.cli import eval_command
from arag.server.cli import mcp, serve
from arag.workspace_cli import workspace
from tools.ingest.lock import DEFAULT_WAIT_SECONDS

if TYPE_CHECKING:
    from arag.turn import TurnResult

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.command()
def ingest(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files, directories or http(s) URLs (PDF, Markdown, text, HTML); private "
            "and loopback addresses are refused unless ARAG_ALLOW_PRIVATE_URLS=1"
        ),
    ] = None,
    data_dir: DataDir = None,
    workspace: Workspace = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Check every chunk row against the ingest records: remove duplicates and "
            "orphans, report missing chunks (alone, or before ingesting PATHS)",
        ),
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            help="Seconds to wait while another ingest holds the data directory (0: exit at once)",
        ),
    ] = DEFAULT_WAIT_SECONDS,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Also delete the chunks of files that are gone from under the given folders",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="With --prune: list what would be deleted, change nothing"),
    ] = False,
    chunk_tokens: Annotated[int, typer.Option(help="Chunk size in tokens")] = 800,
    overlap_tokens: Annotated[int, typer.Option(help="Overlap between chunks in tokens")] = 80,
    contextual: Annotated[
        bool,
        typer.Option(
            "--contextual",
            help="Prepend an LLM-written context to each chunk (cached; needs a model)",
        ),
    ] = False,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", help="Tag the documents (repeatable); `arag ask --tag` and filters find them"
        ),
    ] = None,
    model: Model = None,
) -> None:
    """Add documents to the index; unchanged files are skipped, changed files replaced.

    One writer per data directory: a second ingest (or prune or repair) waits for the first
    (``--wait``), then exits with code 3 and nothing changed. ``--workspace`` ingests into
    that workspace (created on first use).
    """
    ctx = context(data_dir, model, workspace=workspace)
    paths = paths or []
    if not paths and not repair:
        raise typer.BadParameter("give the files, folders or URLs to ingest (or --repair)")
    if dry_run:
        if not prune:
            raise typer.BadParameter("--dry-run goes with --prune")
        _prune(paths, ctx, dry_run=True, wait=wait)
        raise typer.Exit(code=0)
    if not paths:
        _repair(ctx, wait)
        raise typer.Exit(code=0)
    chat_model = None
    if contextual:
        from graph.services import Services

        require_model(ctx)
        chat_model = Services().llm(ctx)  # None offline: ingest skips it with a note
    report = _ingest(
        paths,
        ctx,
        chunk_tokens,
        overlap_tokens,
        contextual=contextual,
        chat_model=chat_model,
        repair=repair,
        wait=wait,
        tags=tag or [],
    )
    if prune:
        _prune(paths, ctx, dry_run=False, wait=wait)
    raise typer.Exit(code=1 if report.files_failed and not report.files_ok else 0)


def _filters(tags, source_prefix, file_types) -> dict[str, Any]:
    """The document filters of ``arag ask``'s flags, checked (a bad one is a usage error)."""
    from tools.index.filters import DocFilter, FilterError

    raw = {"tags": tags or [], "source_prefix": source_prefix or "", "file_types": file_types or []}
    raw = {key: value for key, value in raw.items() if value}
    try:
        DocFilter.parse(raw)
    except FilterError as exc:
        raise typer.BadParameter(str(exc)) from None
    return raw


def _waiting(message: str) -> None:
    err.print(f"[yellow]waiting:[/yellow] {one_line(message)}")


def _fail(exc: Exception) -> NoReturn:
    """Print an index or input error on one line and exit (3: another writer, else 2)."""
    from tools.ingest.lock import IngestBusyError

    err.print(f"[red]error:[/red] {one_line(str(exc))}")
    raise typer.Exit(code=3 if isinstance(exc, IngestBusyError) else 2) from None


def _repair(ctx, wait: float) -> None:
    """``arag ingest --repair`` alone: check and fix the whole index, print what was done."""
    from tools.embeddings import load_embeddings
    from tools.index.base import IndexError_
    from tools.ingest.pipeline import repair

    try:
        report = repair(
            ctx.index_dir(),
            load_embeddings(ctx.embeddings),
            **index_location(ctx),
            wait=wait,
            on_wait=_waiting,
        )
    except IndexError_ as exc:
        _fail(exc)
    for line in report.lines():
        out.print(one_line(line))
    found = "fixed" if report.changed else "nothing to repair"
    out.print(f"repair: {found}; {report.chunks_total} chunks in index")


def _prune(paths, ctx, *, dry_run: bool, wait: float) -> None:
    """Delete (or list) the chunks of files gone from under ``paths``; print each file."""
    from tools.embeddings import load_embeddings
    from tools.index.base import IndexError_
    from tools.ingest.prune import prune_missing

    try:
        report = prune_missing(
            [str(p) for p in paths],
            ctx.index_dir(),
            load_embeddings(ctx.embeddings),
            **index_location(ctx),
            dry_run=dry_run,
            wait=wait,
            on_wait=_waiting,
        )
    except IndexError_ as exc:
        _fail(exc)
    verb = "would delete" if dry_run else "deleted"
    for source, chunks in report.gone.items():
        out.print(f"{verb} {chunks} chunk(s) of {one_line(source)} (the file is gone)")
    out.print(f"prune: {verb} {report.chunks} chunk(s) of {len(report.gone)} file(s)")


def _ingest(
    paths,
    ctx,
    chunk_tokens: int = 800,
    overlap_tokens: int = 80,
    *,
    contextual: bool = False,
    chat_model: Any = None,
    repair: bool = False,
    wait: float = DEFAULT_WAIT_SECONDS,
    tags: list[str] | None = None,
):
    from tools.embeddings import load_embeddings
    from tools.index.base import IndexError_
    from tools.index.filters import FilterError
    from tools.ingest.pipeline import MissingInputError
    from tools.ingest.pipeline import ingest as run_ingest

    with Progress(
        TextColumn("[bold]ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, path: Any) -> None:
            bar.update(task, completed=done, total=total, description=Path(str(path)).name)

        try:
            report = run_ingest(
                [str(p) for p in paths],
                ctx.index_dir(),
                load_embeddings(ctx.embeddings),
                cleanup="incremental",
                **index_location(ctx),
                chunk_tokens=chunk_tokens,
                overlap_tokens=overlap_tokens,
                on_progress=progress,
                contextual=contextual,
                chat_model=chat_model,
                repair=repair,
                tags=tags or (),
                wait=wait,
                on_wait=_waiting,
            )
        except (IndexError_, MissingInputError, FilterError) as exc:
            _fail(exc)
    for path, message in report.files_failed:
        err.print(f"[yellow]skipped[/yellow] {one_line(path)}: {one_line(message)}")
    for path in report.files_ignored:
        err.print(f"[dim]ignored[/dim] {one_line(path)}: unsupported file type")
    out.print(report.summary())
    return report


@asynccontextmanager
async def _checkpointer(ctx, thread: str | None) -> AsyncIterator[Any]:
    """A SQLite checkpointer in the data directory when a thread id is given, else none."""
    if not thread:
        yield None
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from arag.server.checkpointers import SQLITE_FILE

    Path(ctx.data_dir).mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(Path(ctx.data_dir) / SQLITE_FILE)) as saver:
        yield saver


async def _turn(
    question: str, ctx, *, thread: str | None = None, stream: bool = True
) -> tuple[TurnResult, bool]:
    """Run one turn, printing the reply as it streams; the result and how much was printed."""
    from langchain_core.messages import HumanMessage

    from arag.turn import Token, TurnResult, stream_turn
    from graph.builder import build_graph

    result, printed = TurnResult(), ""
    async with _checkpointer(ctx, thread) as saver:
        graph = build_graph(checkpointer=saver)
        config = {"configurable": {"thread_id": thread or str(uuid.uuid4())}}
        turn_input = {"messages": [HumanMessage(question)]}
        async for event in stream_turn(graph, turn_input, config, context=ctx):
            if isinstance(event, Token) and stream:
                printed += event.text
                out.print(event.text, end="", markup=False)
            elif isinstance(event, TurnResult):
                result = event
    return result, printed


def _print_result(result: TurnResult, *, printed: str, as_json: bool) -> None:
    if as_json:
        keys = ("route", "mode", "flags", "citations", "path")
        out.print_json(
            json.dumps(
                {"answer": result.content, **{k: getattr(result, k) for k in keys}},
                ensure_ascii=False,
            )
        )
        return
    if printed and result.content.startswith(printed):
        out.print(result.content[len(printed) :], markup=False)  # the rest (normally nothing)
    else:
        out.print(("\n" if printed else "") + result.content, markup=False)
    flags = ", ".join(result.flags) or "-"
    out.print(f"[dim]route: {result.route}  flags: {flags}[/dim]")
    out.print("[dim]path:[/dim]")
    for s in result.path:
        out.print(f"[dim]  {s['node']:<20} {s['decision']:<22} {s['reason']}[/dim]")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in any language")],
    data_dir: DataDir = None,
    workspace: Workspace = None,
    model: Model = None,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Thread id: follow-ups reuse its history")
    ] = None,
    k: Annotated[int | None, typer.Option(help="Documents per query")] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Only documents with one of these tags (repeatable)"),
    ] = None,
    source_prefix: Annotated[
        str | None,
        typer.Option("--source-prefix", help="Only documents whose path (or URL) starts so"),
    ] = None,
    file_type: Annotated[
        list[str] | None,
        typer.Option("--file-type", help="Only these types: md, pdf, ... (repeatable)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Answer a question over the index: the checked answer, then its sources and path.

    ``--workspace`` answers from that workspace's documents only.
    """
    ctx = context(data_dir, model, k=k, workspace=workspace)
    ctx.filters = _filters(tag, source_prefix, file_type)
    require_workspace(ctx)
    require_model(ctx)
    if not as_json:
        err.print(f"[dim]{mode_line(ctx)}[/dim]")
    result, printed = asyncio.run(_turn(question, ctx, thread=thread, stream=not as_json))
    _print_result(result, printed=printed, as_json=as_json)
    if result.route == "error":
        raise typer.Exit(code=2)


@app.command()
def demo(
    data_dir: DataDir = None,
    model: Model = None,
) -> None:
    """Ingest the bundled sample corpus and answer the sample questions (English and Korean)."""
    ctx = context(data_dir, model)
    require_model(ctx)
    started = time.perf_counter()
    out.rule("[bold]adaptive RAG demo")
    out.print(mode_line(ctx))
    corpus = resources.files("arag") / "sample_corpus"
    with resources.as_file(corpus) as folder:
        out.print(f"ingesting the sample corpus ({folder}) into {ctx.data_dir}")
        _ingest([folder], ctx)
    questions = json.loads((resources.files("arag") / "sample_questions.json").read_text("utf-8"))
    for item in questions:
        out.rule(f"[bold]{item['question']}")
        out.print(f"[dim]{item['note']}[/dim]")
        result, printed = asyncio.run(_turn(item["question"], ctx))
        _print_result(result, printed=printed, as_json=False)
    out.rule()
    out.print(f"demo finished in {time.perf_counter() - started:.1f} s")


app.command()(serve)
app.command()(mcp)
app.command("eval")(eval_command)
app.command()(workspace)


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m arag``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
