"""The app factory: one FastAPI app (``/v1`` + health) for both hosts, plus ``/mcp`` locally.

Errors are in OpenAI's format: ``/v1`` routes (and unknown ``/v1`` paths) on both hosts, and
every route of ``arag serve``'s app. ``/mcp`` is mounted only in ``arag serve`` (``local_app``):
under ``langgraph dev`` the LangGraph server answers ``/mcp`` itself (each assistant as a
tool), and an ``http.app`` route of the same path would hide it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.exceptions import HTTPException

from arag.server import documents_api, health, openai_api, responses_api
from arag.server.access import Access
from arag.server.errors import ApiError, openai_http_errors
from arag.server.guard import guarded_route
from arag.server.runner import Runner, finish_detached
from arag.server.settings import ServerSettings
from graph.config import Context

RunnerFactory = Callable[[], AbstractAsyncContextManager[Runner]]


@dataclass(frozen=True)
class MCPMount:
    """What ``/mcp`` needs besides the runner: the index settings and the interface bound."""

    run_context: Context
    """The graph's settings; ``search`` opens the index they name."""
    host: str = "127.0.0.1"
    """The interface ``arag serve`` listens on (loopback turns DNS-rebinding protection on)."""


def create_app(
    settings: ServerSettings,
    open_runner: RunnerFactory,
    *,
    mcp: MCPMount | None = None,
    ctx: Context | None = None,
) -> FastAPI:
    """The app; ``open_runner()`` is entered for the app's lifetime (checkpointer and graph).

    ``mcp``, given, adds ``/mcp`` (``arag.server.mcp_http``) over the same runner and keys.
    ``ctx`` (default: from the environment) names the data directory holding the workspaces.
    """
    ctx = ctx or (mcp.run_context if mcp is not None else Context())
    access = Access(settings.grants, ctx.data_dir, keyed=bool(settings.api_keys))
    current: dict[str, Runner] = {}
    mcp_server = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            runner = await stack.enter_async_context(open_runner())
            await runner.warm()  # uvicorn opens the port only after the start-up
            if mcp_server is not None:
                await stack.enter_async_context(mcp_server.session_manager.run())
            current["runner"] = runner
            try:
                yield
            finally:
                current.clear()
                # Turns whose client disconnected store their answer before the store closes.
                await finish_detached(settings.request_timeout)

    def runner() -> Runner:
        if "runner" not in current:
            raise ApiError(
                503, "The server is starting or stopping.", "server_error", "unavailable"
            )
        return current["runner"]

    app = FastAPI(
        title="adaptive-rag",
        version="0.1.0",
        summary="OpenAI-compatible chat completions over the adaptive RAG graph",
        lifespan=lifespan,
        # The interactive docs pages load their scripts from a CDN: a server should make no
        # browser fetch from third parties. The spec stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    keyed = guarded_route(settings, keyed=True)  # the key is checked before the body is read
    v1 = [
        openai_api.router(settings, runner, keyed, access),
        responses_api.router(settings, runner, keyed, access),
        documents_api.router(settings, access, ctx),
    ]
    for api in v1:
        app.include_router(api)
    app.include_router(openai_api.unmatched_router(keyed, v1))  # after every /v1 route
    app.include_router(health.router(lambda: current.get("runner"), guarded_route(settings)))
    if mcp is not None:
        from arag.server.mcp_http import mcp_route
        from arag.server.mcp_tools import build_mcp

        mcp_server = build_mcp(
            runner, mcp.run_context, timeout=settings.request_timeout, access=access
        )
        app.router.routes.append(mcp_route(mcp_server, settings, mcp.host))
    return app


def local_app(settings: ServerSettings, ctx: Context, host: str = "127.0.0.1") -> FastAPI:
    """The ``arag serve`` app: the graph in this process over a SQLite/PostgreSQL checkpointer.

    ``/mcp`` serves the same graph to MCP clients; ``host`` is the interface bound.
    """
    from arag.server.checkpointers import open_checkpointer
    from arag.server.runner import LocalRunner

    @asynccontextmanager
    async def open_runner() -> AsyncIterator[Runner]:
        async with open_checkpointer(ctx.data_dir, settings.postgres_dsn) as saver:
            yield LocalRunner(saver, ctx, checkpoints_kept=settings.checkpoints_kept)

    app = create_app(settings, open_runner, mcp=MCPMount(ctx, host), ctx=ctx)
    # Only here: under the LangGraph API an app-wide handler would answer for its routes too.
    app.add_exception_handler(HTTPException, openai_http_errors)
    return app
