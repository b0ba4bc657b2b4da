"""The app factory: one FastAPI app (``/v1`` + health) for both hosts.

Errors are in OpenAI's format: ``/v1`` routes (and unknown ``/v1`` paths) on both hosts, and
every route of ``arag serve``'s app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.exceptions import HTTPException

from arag.server import health, openai_api, responses_api
from arag.server.errors import ApiError, openai_http_errors
from arag.server.guard import guarded_route
from arag.server.runner import Runner
from arag.server.settings import ServerSettings

RunnerFactory = Callable[[], AbstractAsyncContextManager[Runner]]


def create_app(settings: ServerSettings, open_runner: RunnerFactory) -> FastAPI:
    """The app; ``open_runner()`` is entered for the app's lifetime (checkpointer and graph)."""
    current: dict[str, Runner] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with open_runner() as runner:
            current["runner"] = runner
            try:
                yield
            finally:
                current.clear()

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
    route_class = guarded_route(settings)
    v1 = [
        openai_api.router(settings, runner, route_class),
        responses_api.router(settings, runner, route_class),
    ]
    for api in v1:
        app.include_router(api)
    app.include_router(openai_api.unmatched_router(route_class, v1))  # after every /v1 route
    app.include_router(health.router(lambda: current.get("runner"), route_class))
    return app


def local_app(settings: ServerSettings, ctx) -> FastAPI:
    """The ``arag serve`` app: the graph in this process over a SQLite/PostgreSQL checkpointer."""
    from arag.server.checkpointers import open_checkpointer
    from arag.server.runner import LocalRunner

    @asynccontextmanager
    async def open_runner() -> AsyncIterator[Runner]:
        async with open_checkpointer(ctx.data_dir, settings.postgres_dsn) as saver:
            yield LocalRunner(saver, ctx)

    app = create_app(settings, open_runner)
    # Only here: under the LangGraph API an app-wide handler would answer for its routes too.
    app.add_exception_handler(HTTPException, openai_http_errors)
    return app
