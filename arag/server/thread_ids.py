"""Client-chosen thread ids on the LangGraph API, whose thread ids are UUIDs.

Any text of 1-256 characters without control characters names a thread: a UUID is used as it
is, any other name maps to a stable UUID5, the same one whichever route it comes through
(``/v1`` with ``X-Thread-Id`` or ``metadata.thread_id``, or the LangGraph routes' ``/threads/{id}``
path, as ``RemoteGraph`` sends its parent graph's thread id).
"""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import quote

from starlette.types import ASGIApp, Receive, Scope, Send

from arag.server.openai_schemas import check_id

_THREAD_PATH = re.compile(r"^(/threads/)([^/]+)(/.*)?$")
_NOT_A_THREAD = {"search", "count", "prune"}  # /threads/search etc. are routes, not ids


def langgraph_thread_id(requested: str) -> str:
    """The LangGraph thread id for ``requested``: itself if a UUID, else its stable UUID5."""
    try:
        return str(uuid.UUID(requested))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"arag:thread:{requested}"))


class ThreadIdPaths:
    """ASGI middleware: ``/threads/{name}/...`` with a non-UUID name goes to its UUID5 thread.

    A name with control characters or over 256 characters is a 400 in the LangGraph API's
    ``{"detail"}`` format (these are its routes).
    """

    def __init__(self, app: ASGIApp):
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite the path of a named thread; pass everything else through."""
        if scope["type"] == "http" and (found := _THREAD_PATH.match(scope["path"])):
            prefix, name, rest = found.group(1), found.group(2), found.group(3) or ""
            if name not in _NOT_A_THREAD:
                try:
                    check_id(name, "thread id")
                except ValueError as exc:
                    await _bad_request(send, f"{exc}.")
                    return
                mapped = langgraph_thread_id(name)
                if mapped != name:
                    path = prefix + mapped + rest
                    scope = {**scope, "path": path, "raw_path": quote(path).encode()}
        await self.app(scope, receive, send)


async def _bad_request(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})
