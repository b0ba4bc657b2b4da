"""Connection hygiene for ``arag serve``: a header deadline and a connection limit.

uvicorn closes a connection that is idle *between* requests (``timeout_keep_alive``), but it
never times out the request head itself: a client that connects and sends nothing, or drips
one header byte at a time (slowloris; each byte re-arms nothing), holds its connection and a
file descriptor forever. Three hundred such connections made the server refuse every
legitimate request. :func:`guarded_protocol` is uvicorn's own httptools protocol with one
addition: from the moment a connection opens, and again when each request starts, the
complete request head must arrive within ``header_timeout`` seconds, else the connection is
closed.

:func:`connection_limit` sizes uvicorn's ``limit_concurrency`` (beyond it uvicorn answers
503 at once) to what the process's file-descriptor limit can hold, after raising the soft
limit to the hard one.
"""

from __future__ import annotations

import resource
from asyncio import TimerHandle

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

FD_RESERVE = 128  # descriptors kept for the index, the thread store and the logs


def guarded_protocol(header_timeout: float) -> type[HttpToolsProtocol]:
    """Uvicorn's httptools protocol, closing connections whose request head is too slow."""

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        _head_deadline: TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_deadline = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _too_slow(self) -> None:
            self._head_deadline = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()  # a connection that never sends a request is closed too

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadlineProtocol


def connection_limit(requested: int) -> int:
    """``requested``, capped by the descriptors this process may open (soft limit raised)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(1, min(requested, soft - FD_RESERVE))
