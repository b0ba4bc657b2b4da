"""``/mcp`` in ``arag serve``: the MCP server on Streamable HTTP, behind the ``/v1`` API keys.

The SDK's own auth is OAuth (a token verifier with an authorization server's metadata); these
keys are static, sent as ``Authorization: Bearer`` or ``X-Api-Key`` exactly as to ``/v1``, so
``RequireKey`` checks them with ``auth.owner_for`` before the SDK sees the request. A missing or
wrong key gets the same 401 as ``/v1``; with no keys configured everyone is ``local``.

The transport is stateless (no MCP session kept between requests): every tool call is
self-contained, and any of several server processes can answer it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from arag.server.auth import owner_for
from arag.server.errors import ApiError
from arag.server.guard import request_id
from arag.server.mcp_tools import OWNER_SCOPE_KEY
from arag.server.settings import LOOPBACK, ServerSettings

PATH = "/mcp"
log = logging.getLogger("arag.server")


class RequireKey:
    """ASGI wrapper: 401 without a configured key, else the key's name in the scope's state."""

    def __init__(self, app: Any, settings: ServerSettings):
        """Guard ``app`` (the SDK's request handler) with ``settings.api_keys``."""
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the key, run the request, log one line (never the key)."""
        from starlette.requests import Request

        request = Request(scope)
        started, status, owner = time.perf_counter(), 0, None

        async def watch(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            owner = owner_for(
                request.headers.get("authorization"),
                self.settings.api_keys,
                request.headers.get("x-api-key"),
            )
        except ApiError as exc:
            await exc.response()(scope, receive, watch)
        else:
            scope.setdefault("state", {})[OWNER_SCOPE_KEY] = owner
            await self.app(scope, receive, watch)
        log.info(
            "request",
            extra={
                "request_id": request_id(request),
                "method": request.method,
                "path": request.url.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "owner": owner,
            },
        )


def mcp_route(server: MCPServer, settings: ServerSettings, host: str) -> Route:
    """The ``/mcp`` route; the server's ``session_manager.run()`` must run for the app's life.

    Bound to loopback, the SDK's DNS-rebinding protection is on (only loopback ``Host`` and
    ``Origin`` headers pass), so a web page cannot drive a local server through the browser.
    On other interfaces API keys are required (``arag serve`` refuses to start without them).
    """
    security = None
    if host not in LOOPBACK:
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    server.streamable_http_app(  # sets up server.session_manager; its own app is not used
        stateless_http=True,
        max_request_body_size=settings.max_body_bytes,
        transport_security=security,
        host=host,
    )
    return Route(PATH, RequireKey(server.session_manager.handle_request, settings))
