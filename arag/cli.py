"""The ``arag`` command line: ``ingest``, ``ask``, ``demo`` and ``serve``.

Settings follow the graph's ``Context`` (run-time flag, then environment, then default); the
flags here only cover what people change most often.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DataDir = Annotated[
    str | None,
    typer.Option("--data-dir", help="Index directory (env ARAG_DATA_DIR, default .arag)"),
]
Model = Annotated[
    str | None,
    typer.Option("--model", help="provider:model, e.g. openai:gpt-4o-mini; 'offline' for no LLM"),
]


def _context(data_dir: str | None, model: str | None, **extra: Any):
    from graph.config import Context

    ctx = Context()
    overrides = {"data_dir": data_dir, "model": model, **extra}
    for key, value in overrides.items():
        if value is not None:
            setattr(ctx, key, value)
    return ctx


def _require_model(ctx) -> None:
    """Exit with a clear message when the configured model cannot be built (bad spec, no key)."""
    from graph.services import Services

    try:
        Services().llm(ctx)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None


def _mode_line(ctx) -> str:
    from tools.chat_models import resolve_model_spec

    spec = resolve_model_spec(ctx.model or None)
    if spec is None:
        return (
            "mode: offline — no LLM configured, answers are extractive "
            "(set OPENAI_API_KEY, GROQ_API_KEY or ARAG_MODEL to use a model)"
        )
    return f"mode: llm — {spec}" + (f" at {ctx.base_url}" if ctx.base_url else "")


@app.command()
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files, directories or http(s) URLs (PDF, Markdown, text, HTML); private "
            "and loopback addresses are refused unless ARAG_ALLOW_PRIVATE_URLS=1"
        ),
    ],
    data_dir: DataDir = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Also delete chunks of files not given in this run")
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
    model: Model = None,
) -> None:
    """Add documents to the index; unchanged files are skipped, changed files replaced."""
    ctx = _context(data_dir, model)
    chat_model = None
    if contextual:
        from graph.services import Services

        _require_model(ctx)
        chat_model = Services().llm(ctx)  # None offline: ingest skips it with a note
    report = _ingest(
        paths,
        ctx,
        prune,
        chunk_tokens,
        overlap_tokens,
        contextual=contextual,
        chat_model=chat_model,
    )
    raise typer.Exit(code=1 if report.files_failed and not report.files_ok else 0)


def _ingest(
    paths,
    ctx,
    prune: bool,
    chunk_tokens: int = 800,
    overlap_tokens: int = 80,
    *,
    contextual: bool = False,
    chat_model: Any = None,
):
    from tools.embeddings import load_embeddings
    from tools.index.base import IndexError_
    from tools.ingest import ingest as run_ingest

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
                ctx.data_dir,
                load_embeddings(ctx.embeddings),
                cleanup="full" if prune else "incremental",
                chunk_tokens=chunk_tokens,
                overlap_tokens=overlap_tokens,
                on_progress=progress,
                contextual=contextual,
                chat_model=chat_model,
            )
        except IndexError_ as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=2) from None
    for path, message in report.files_failed:
        err.print(f"[yellow]skipped[/yellow] {_one_line(path)}: {_one_line(message)}")
    for path in report.files_ignored:
        err.print(f"[dim]ignored[/dim] {_one_line(path)}: unsupported file type")
    out.print(report.summary())
    return report


def _one_line(text: str) -> str:
    """``text`` safe to print as part of one line: control characters escaped, no markup."""
    from rich.markup import escape

    return escape("".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text)))


@contextmanager
def _checkpointer(ctx, thread: str | None) -> Iterator[Any]:
    """A SQLite checkpointer in the data directory when a thread id is given, else none."""
    if not thread:
        yield None
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    Path(ctx.data_dir).mkdir(parents=True, exist_ok=True)
    with SqliteSaver.from_conn_string(str(Path(ctx.data_dir) / "threads.sqlite")) as saver:
        yield saver


def _run(question: str, ctx, *, thread: str | None = None, stream: bool = True) -> dict[str, Any]:
    """Run one turn, streaming answer tokens to stdout; return the ``respond`` update."""
    from langchain_core.messages import AIMessageChunk, HumanMessage

    from graph.builder import build_graph

    final: dict[str, Any] = {}
    path: list[dict] = []
    flags: list[str] = []
    streamed = False
    drafts = 0
    with _checkpointer(ctx, thread) as saver:
        graph = build_graph(checkpointer=saver)
        config = {"configurable": {"thread_id": thread or str(uuid.uuid4())}}
        for mode, chunk in graph.stream(
            {"messages": [HumanMessage(question)]},
            config,
            context=ctx,
            stream_mode=["messages", "updates"],
        ):
            if mode == "messages":
                message, meta = chunk
                if (
                    stream
                    and meta.get("langgraph_node") == "generate_answer"
                    and isinstance(message, AIMessageChunk)
                    and message.content
                ):
                    streamed = True
                    out.print(message.content, end="")
                continue
            for node, update in chunk.items():
                if not isinstance(update, dict):
                    continue
                steps = update.get("path") or []
                steps = getattr(steps, "value", steps)
                path.extend([steps] if isinstance(steps, dict) else steps)
                new_flags = update.get("flags") or []
                flags.extend(f for f in getattr(new_flags, "value", new_flags) if f not in flags)
                if node == "generate_answer":
                    drafts += 1
                    if streamed and drafts > 1:
                        out.print("\n[dim](revised after the answer check)[/dim]")
                if node == "respond":
                    final = update
    final["path"] = path
    final["flags"] = flags
    final["streamed"] = streamed
    return final


def _print_result(result: dict[str, Any], *, as_json: bool) -> None:
    message = result["messages"][-1]
    if as_json:
        keys = ("route", "mode", "flags", "citations", "path")
        out.print_json(
            json.dumps(
                {"answer": message.content, **{k: result.get(k) for k in keys}}, ensure_ascii=False
            )
        )
        return
    if result.get("streamed"):
        # Tokens are already on screen; print what came after them (sources and notes).
        out.print(message.content[len(result.get("answer") or "") :])
    else:
        out.print(message.content)
    flags = ", ".join(result.get("flags") or []) or "-"
    out.print(f"[dim]route: {result.get('route')}  flags: {flags}[/dim]")
    out.print("[dim]path:[/dim]")
    for s in result["path"]:
        out.print(f"[dim]  {s['node']:<20} {s['decision']:<22} {s['reason']}[/dim]")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in any language")],
    data_dir: DataDir = None,
    model: Model = None,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Thread id: follow-ups reuse its history")
    ] = None,
    k: Annotated[int | None, typer.Option(help="Documents per query")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Answer a question over the index, streaming the answer, then its sources and path."""
    ctx = _context(data_dir, model, k=k)
    _require_model(ctx)
    if not as_json:
        err.print(f"[dim]{_mode_line(ctx)}[/dim]")
    result = _run(question, ctx, thread=thread, stream=not as_json)
    _print_result(result, as_json=as_json)
    if result.get("route") == "error":
        raise typer.Exit(code=2)


@app.command()
def demo(
    data_dir: DataDir = None,
    model: Model = None,
) -> None:
    """Ingest the bundled sample corpus and answer the sample questions (English and Korean)."""
    ctx = _context(data_dir, model)
    _require_model(ctx)
    started = time.perf_counter()
    out.rule("[bold]adaptive RAG demo")
    out.print(_mode_line(ctx))
    corpus = resources.files("arag") / "sample_corpus"
    with resources.as_file(corpus) as folder:
        out.print(f"ingesting the sample corpus ({folder}) into {ctx.data_dir}")
        _ingest([folder], ctx, prune=True)
    questions = json.loads((resources.files("arag") / "sample_questions.json").read_text("utf-8"))
    for item in questions:
        out.rule(f"[bold]{item['question']}")
        out.print(f"[dim]{item['note']}[/dim]")
        result = _run(item["question"], ctx)
        _print_result(result, as_json=False)
    out.rule()
    out.print(f"demo finished in {time.perf_counter() - started:.1f} s")


from arag.server.cli import serve  # noqa: E402 - registered after the commands above

app.command()(serve)

from arag.evaluation.cli import eval_command  # noqa: E402 - registered after the commands above

app.command("eval")(eval_command)


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m arag``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
