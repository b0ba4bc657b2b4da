"""A request deadline that the OpenAI and Groq SDKs' own retries respect.

The SDKs retry 408/409/429/5xx and connection errors ``max_retries`` times and honour
``Retry-After``, but know nothing of how long the user has been waiting. The transports here sit
under the SDKs' HTTP clients and read the deadline of the current call from a context variable
(set with :func:`scope`, which the graph's nodes do around every LLM call):

* each attempt's connect/read/write timeouts are cut to the time left;
* a retryable response whose ``Retry-After`` (or, without one, the SDK's next backoff) would end
  after the deadline gets ``x-should-retry: false``, a header both SDKs obey, so they give up
  now instead of sleeping past the deadline;
* once the deadline has passed, a request is not sent: the SDK gets a synthetic 504 (not
  retried) whose error code is :data:`DEADLINE_CODE`; a timeout or dropped connection with no
  time left for another attempt turns into the same 504.

Hand-rolled because neither SDK has a total-time budget, only per-attempt timeouts. Outside a
:func:`scope` the transports change nothing. The OpenAI SDK runs on ``httpx2``, Groq's on
``httpx``; both have the same transport interface, so one implementation serves both.
"""

from __future__ import annotations

import functools
import importlib
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

DEADLINE_CODE = "deadline_exceeded"
RETRYABLE = frozenset({408, 409, 429})
# The SDKs' exponential backoff (openai/groq ``_constants``): 0.5 s doubling, at most 8 s.
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0

_deadline: ContextVar[float | None] = ContextVar("arag_llm_deadline", default=None)


class DeadlineExceeded(TimeoutError):
    """The turn's request deadline passed before an LLM call could start."""


@contextmanager
def scope(seconds: float | None) -> Iterator[None]:
    """Bound the LLM requests made inside the block to ``seconds`` from now (None: no bound)."""
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def seconds_left() -> float | None:
    """Seconds until the current scope's deadline (negative once passed), or None if unbounded."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


def is_deadline_error(exc: BaseException) -> bool:
    """Whether ``exc`` means "the request deadline passed" (raised here or by a transport)."""
    return isinstance(exc, DeadlineExceeded) or getattr(exc, "code", None) == DEADLINE_CODE


def _retry_wait(request: Any, response: Any) -> float:
    """How long the SDK would sleep before retrying ``response`` (as the SDKs compute it)."""
    headers = response.headers
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            value = float(headers.get(name)) / scale
        except (TypeError, ValueError):
            continue
        if math.isfinite(value) and value > 0:
            return value
    return _backoff(request)


def _backoff(request: Any) -> float:
    """The SDKs' backoff before the next attempt (the upper end; jitter only shortens it)."""
    try:
        taken = int(request.headers.get("x-stainless-retry-count") or 0)
    except ValueError:
        taken = 0
    return min(INITIAL_RETRY_DELAY * 2.0 ** min(taken, 16), MAX_RETRY_DELAY)


def _expired(lib: Any, request: Any, why: str) -> Any:
    """The synthetic, not-retried 504 that tells the SDK the deadline has passed."""
    body = {
        "error": {
            "message": f"request deadline reached: {why}",
            "type": "timeout_error",
            "param": None,
            "code": DEADLINE_CODE,
        }
    }
    return lib.Response(504, headers={"x-should-retry": "false"}, json=body, request=request)


def _clamp_timeouts(request: Any, left: float) -> None:
    timeouts = dict(request.extensions.get("timeout") or {})
    for phase in ("connect", "read", "write", "pool"):
        current = timeouts.get(phase)
        timeouts[phase] = left if current is None else min(current, left)
    request.extensions["timeout"] = timeouts


def _mark_retry(request: Any, response: Any, left: float) -> None:
    retryable = response.status_code in RETRYABLE or response.status_code >= 500
    if retryable and "x-should-retry" not in response.headers:
        if _retry_wait(request, response) >= left:
            response.headers["x-should-retry"] = "false"


@functools.cache
def _transports(lib: Any) -> tuple[type, type]:
    """Sync and async deadline transports for ``lib`` (``httpx`` or ``httpx2``)."""

    class DeadlineTransport(lib.BaseTransport):
        """Wraps a transport; enforces the deadline of the current :func:`scope`."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def handle_request(self, request: Any) -> Any:
            left = seconds_left()
            if left is None:
                return self.inner.handle_request(request)
            if left <= 0:
                return _expired(lib, request, "no time left for this attempt")
            _clamp_timeouts(request, left)
            try:
                response = self.inner.handle_request(request)
            except lib.TransportError as exc:
                if (seconds_left() or 0.0) <= _backoff(request):
                    return _expired(lib, request, f"{type(exc).__name__} with no time to retry")
                raise
            _mark_retry(request, response, seconds_left() or 0.0)
            return response

        def close(self) -> None:
            self.inner.close()

    class AsyncDeadlineTransport(lib.AsyncBaseTransport):
        """Async twin of ``DeadlineTransport``."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def handle_async_request(self, request: Any) -> Any:
            left = seconds_left()
            if left is None:
                return await self.inner.handle_async_request(request)
            if left <= 0:
                return _expired(lib, request, "no time left for this attempt")
            _clamp_timeouts(request, left)
            try:
                response = await self.inner.handle_async_request(request)
            except lib.TransportError as exc:
                if (seconds_left() or 0.0) <= _backoff(request):
                    return _expired(lib, request, f"{type(exc).__name__} with no time to retry")
                raise
            _mark_retry(request, response, seconds_left() or 0.0)
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

    return DeadlineTransport, AsyncDeadlineTransport


def http_clients(sdk: Any) -> dict[str, Any]:
    """``http_client`` / ``http_async_client`` for a chat model on ``sdk`` (``openai``/``groq``).

    The SDK's own default clients (its timeouts, redirects, headers) over deadline transports,
    built on whichever httpx flavour that SDK version uses.
    """
    lib = _http_lib(sdk.DefaultHttpxClient)
    sync, async_ = _transports(lib)
    return {
        "http_client": sdk.DefaultHttpxClient(transport=sync(lib.HTTPTransport())),
        "http_async_client": sdk.DefaultAsyncHttpxClient(
            transport=async_(lib.AsyncHTTPTransport())
        ),
    }


def _http_lib(client_cls: type) -> Any:
    """The httpx module (``httpx`` or ``httpx2``) whose ``Client`` ``client_cls`` extends."""
    for base in client_cls.__mro__:
        top = base.__module__.split(".")[0]
        if top.startswith("httpx"):
            return importlib.import_module(top)
    raise TypeError(f"{client_cls.__name__} is not an httpx client")
