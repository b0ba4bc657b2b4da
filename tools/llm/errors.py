"""Which model errors a step survives, and how to describe them without leaking secrets."""

from __future__ import annotations

import json

import httpx

from tools.llm import deadline


def provider_errors() -> tuple[type[BaseException], ...]:
    """Transport and provider errors that make a step fall back instead of failing the run.

    Malformed structured output never raises (``tools.llm.structured`` repairs or reports it);
    these are the errors left once the client's own bounded retries are spent.
    """
    import groq
    import openai

    from tools.llm.chat_models import fallback_errors

    # Some faults escape the SDKs unwrapped: a 200 with a broken JSON body raises
    # json.JSONDecodeError, a truncated Groq stream raises httpx.RemoteProtocolError.
    # TimeoutError covers deadline.DeadlineExceeded; fallback_errors adds httpx2's errors.
    return (
        openai.APIError,
        groq.APIError,
        httpx.HTTPError,
        json.JSONDecodeError,
        TimeoutError,
        ConnectionError,
        *fallback_errors(),
    )


def describe_error(exc: BaseException) -> str:
    """A one-line, secret-free description of a provider error: what happened, then the class.

    E.g. ``rate limited (HTTP 429, RateLimitError)``, ``timed out (APITimeoutError)``.
    """
    if deadline.is_deadline_error(exc):
        return "request deadline reached"
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    if status == 429:
        what = "rate limited"
    elif isinstance(status, int) and status >= 500:
        what = "provider error"
    elif status:
        what = "request rejected"
    elif isinstance(exc, TimeoutError) or "Timeout" in kind:
        what = "timed out"
    elif isinstance(exc, ValueError | KeyError | TypeError | IndexError):  # JSONDecodeError too
        what = "unreadable response"
    elif isinstance(exc, ConnectionError) or "Connection" in kind or "Protocol" in kind:
        what = "connection failed"
    else:
        return kind
    return f"{what} (HTTP {status}, {kind})" if status else f"{what} ({kind})"
