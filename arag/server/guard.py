"""Per-route guard: request id, body size/time limits, OpenAI-format errors, one log line.

A route class rather than app middleware because under the LangGraph API the app's middleware
would wrap the LangGraph routes too (a request timeout there would cut long runs and streams).
FastAPI's own ``max_body_size`` answers 413 in its ``{"detail"}`` format; OpenAI clients expect
``{"error": {...}}``, hence the small reader here.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from arag.server.auth import owner_for
from arag.server.errors import ApiError, invalid_request
from arag.server.settings import ServerSettings

log = logging.getLogger("arag.server")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id(request: Request) -> str:
    """The caller's ``X-Request-Id`` if it is sane, else a new one."""
    given = request.headers.get("x-request-id", "")
    return given if REQUEST_ID.match(given) else uuid.uuid4().hex


async def read_body(request: Request, settings: ServerSettings) -> None:
    """Read the body once, enforcing the size (413) and upload-time (408) limits."""
    limit = settings.max_body_bytes
    too_large = ApiError(
        413, f"Request body is larger than {limit} bytes.", "invalid_request_error", "too_large"
    )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large

    async def collect() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        body = await asyncio.wait_for(collect(), settings.body_timeout)
    except TimeoutError:
        raise ApiError(
            408, "The request body took too long to arrive.", "invalid_request_error", "timeout"
        ) from None
    request._body = body  # FastAPI then parses this instead of reading the stream again


_UNION_TAG = re.compile(r"^(str|int|float|bool|none|[a-z-]+\[.*\]|[A-Z]\w*)$")
"""Location parts pydantic adds for a union's branches (``str``, ``list[ContentPart]``)."""


def validation_error(exc: RequestValidationError) -> ApiError:
    """A 400 naming the invalid field, as OpenAI does.

    Of the errors, the deepest is reported: for ``content: str | list[part]`` a broken part says
    what is wrong with the part, not that the content is not a string.
    """
    errors = exc.errors()
    first = max(errors, key=lambda e: len(e.get("loc", ()))) if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body" and not _UNION_TAG.match(str(p))]
    where = ".".join(loc) or "body"
    message = f"Invalid request: {where}: {first.get('msg', 'invalid value')}."
    return invalid_request(message, param=where if where != "body" else None)


def guarded_route(settings: ServerSettings, *, keyed: bool = False) -> type[APIRoute]:
    """An ``APIRoute`` class applying ``settings``' limits to every route it serves.

    ``keyed``: the API key is checked from the headers *before* the body is read, so an
    anonymous client gets its 401 at once and cannot hold a connection for the body timeout.
    The key's name is left in ``request.state.owner``.
    """

    class GuardedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                rid = request_id(request)
                request.state.request_id = rid
                started = time.perf_counter()
                try:
                    if keyed:
                        request.state.owner = owner_for(
                            request.headers.get("authorization"),
                            settings.api_keys,
                            request.headers.get("x-api-key"),
                        )
                    await read_body(request, settings)
                    response = await asyncio.wait_for(handler(request), settings.request_timeout)
                except ApiError as exc:
                    response = exc.response()
                except RequestValidationError as exc:
                    response = validation_error(exc).response()
                except StarletteHTTPException as exc:
                    # FastAPI's own errors, e.g. 400 for a body that is not decodable JSON.
                    kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
                    response = ApiError(exc.status_code, str(exc.detail), kind, "invalid_request")
                    response = response.response()
                except TimeoutError:
                    response = ApiError(
                        504,
                        f"The answer took longer than {settings.request_timeout:g} s.",
                        "timeout_error",
                        "timeout",
                    ).response()
                except Exception:
                    # A bug, not a client error: logged with the request id, answered in the
                    # OpenAI format so the client shows something useful.
                    log.exception("unhandled error", extra={"request_id": rid})
                    response = ApiError(
                        500, f"Internal error (request id {rid}).", "server_error", "internal"
                    ).response()
                response.headers["X-Request-Id"] = rid
                log.info(
                    "request",
                    extra={
                        "request_id": rid,
                        "method": request.method,
                        "path": request.url.path,
                        "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "owner": getattr(request.state, "owner", None),
                        "thread_id": getattr(request.state, "thread_id", None),
                    },
                )
                return response

            return guarded

    return GuardedRoute
