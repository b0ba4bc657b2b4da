"""``/healthz`` (process answers) and ``/readyz`` (index, thread store and disk are fine)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from arag.server.runner import Runner

# An absolute path, kept to its last component: /readyz answers anyone, and the server's folder
# layout is not theirs to see ("No index at /srv/app/.arag" -> "No index at .arag").
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s'\"`/]+/)*([^\s'\"`/]+)")


def public_reason(reason: str) -> str:
    """``reason`` with every absolute path cut to its last component."""
    return _ABSOLUTE_PATH.sub(r"\1", reason)


def router(runner: Callable[[], Runner | None], route_class: type) -> APIRouter:
    """Health routes; no API key needed (they reveal no data), so load balancers can probe."""
    api = APIRouter(route_class=route_class, tags=["health"])

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: 200 while the process serves requests."""
        return {"status": "ok"}

    @api.get("/readyz", responses={503: {"description": "not ready, with the reasons"}})
    async def readyz() -> JSONResponse:
        """Readiness: 200 when the index opens, the thread store answers and the disk has room.

        The body also gives ``index_chunks``, the index size now.
        """
        current = runner()
        if current is None:
            return JSONResponse({"status": "starting", "checks": {}}, status_code=503)
        checks = await current.ready()
        ok = all(reason is None for reason in checks.values())
        body = {
            "status": "ready" if ok else "not_ready",
            "checks": {name: public_reason(reason or "ok") for name, reason in checks.items()},
            # The current size: another process's ingest or prune shows here at once.
            "index_chunks": await current.index_chunks() if ok else None,
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    return api
