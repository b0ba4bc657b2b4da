"""``arag serve`` (the OpenAI-compatible API and ``/mcp``, on uvicorn) and ``arag mcp`` (stdio)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from arag.console import DataDir, Model, context, err, mode_line, require_model


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind; anything but loopback needs ARAG_API_KEYS")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    data_dir: DataDir = None,
    model: Model = None,
    graceful_timeout: Annotated[
        float, typer.Option(help="Seconds in-flight requests may take to finish on SIGTERM")
    ] = 60.0,
) -> None:
    """Serve /v1/chat/completions (OpenAI-compatible, threads in SQLite or PostgreSQL) and /mcp."""
    import uvicorn

    from arag.server.app import local_app
    from arag.server.checkpointers import describe
    from arag.server.logging import configure_logging
    from arag.server.settings import LOOPBACK, ServerSettings, SettingsError

    try:
        settings = ServerSettings.from_env()
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    if not settings.api_keys and host not in LOOPBACK:
        err.print(
            f"[red]error:[/red] refusing to listen on {host} without API keys: anyone who can "
            "reach it could read every conversation. Set ARAG_API_KEYS=name:key[,name:key...] "
            "(keys of 16+ characters), or use --host 127.0.0.1."
        )
        raise typer.Exit(code=2)
    ctx = context(data_dir, model)
    require_model(ctx)
    err.print(f"arag serve: http://{host}:{port}/v1  (OpenAI-compatible; model id adaptive-rag)")
    err.print(f"mcp: http://{host}:{port}/mcp  (Streamable HTTP; tools ask and search)")
    if settings.api_keys:
        err.print(f"auth: bearer keys for {', '.join(settings.key_names)}")
    else:
        err.print("auth: none (ARAG_API_KEYS unset) — listening on 127.0.0.1 only")
    err.print(f"threads: {describe(ctx.data_dir, settings.postgres_dsn)}")
    err.print(mode_line(ctx))
    secrets = list(settings.api_keys)
    if settings.postgres_dsn:
        from psycopg.conninfo import conninfo_to_dict

        try:
            secrets.append(str(conninfo_to_dict(settings.postgres_dsn).get("password") or ""))
        except Exception:  # noqa: BLE001, S110 - an unparsable DSN fails loudly at startup
            pass
    configure_logging(secrets)
    from arag.server.connections import connection_limit, guarded_protocol

    limit = connection_limit(settings.max_connections)
    err.print(
        f"connections: at most {limit} open; request head within {settings.header_timeout:g} s, "
        f"idle keep-alive {settings.keep_alive_timeout:g} s"
    )
    uvicorn.run(
        local_app(settings, ctx, host),
        host=host,
        port=port,
        log_config=None,  # keep the JSON handler configured above
        access_log=False,  # the app logs each request itself, with its request id
        timeout_graceful_shutdown=graceful_timeout,
        # The request head must arrive within header_timeout, from the connection's start:
        # uvicorn alone never times out a client that sends nothing (arag/server/connections).
        http=guarded_protocol(settings.header_timeout),
        # Beyond this many connections uvicorn answers 503 at once instead of running out of
        # file descriptors and refusing everyone.
        limit_concurrency=limit,
        # Longer than the idle timeout of clients and proxies that reuse connections (httpx
        # 5 s, load balancers ~60 s): at uvicorn's default of 5 s the server closes an idle
        # connection just as a busy client sends on it, which fails as a ReadError
        # (make bench-serve saw 5 of 512 at 128 clients).
        timeout_keep_alive=settings.keep_alive_timeout,
        server_header=False,
    )


def mcp(data_dir: DataDir = None, model: Model = None) -> None:
    """Serve the MCP tools ask and search on stdin/stdout (Claude Desktop, Cursor, ...)."""
    import anyio

    from arag.server.logging import configure_logging

    ctx = context(data_dir, model)
    require_model(ctx)
    # stdout carries the protocol: everything else goes to stderr, which MCP clients log.
    err.print(f"arag mcp: MCP over stdio, tools ask and search; index in {ctx.data_dir}")
    err.print(mode_line(ctx))
    configure_logging(level=logging.WARNING)
    anyio.run(_serve_stdio, ctx)


async def _serve_stdio(ctx) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from arag.server.mcp_tools import build_mcp
    from arag.server.runner import LocalRunner

    runner = LocalRunner(InMemorySaver(), ctx)  # ask runs stateless turns: nothing is stored
    await build_mcp(lambda: runner, ctx).run_stdio_async()
