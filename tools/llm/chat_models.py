"""Choose and build the chat model from one ``provider:model`` string.

Supported prefixes:

* ``openai:<model>`` -- OpenAI, or any OpenAI-compatible server when a base URL is given.
* ``groq:<model>`` -- Groq (``ChatGroq``); a base URL points it at a Groq proxy or emulator.
* ``vllm:``, ``ollama:``, ``llamacpp:``, ``openai-compatible:`` -- an OpenAI-compatible
  server through ``ChatOpenAI``; each has a conventional local default base URL.

A base URL (the ``base_url`` argument, which callers take from ``Context.base_url``) always
means "talk the OpenAI wire format to that server": for every prefix except ``groq`` the model
is a ``ChatOpenAI`` with that ``base_url``, and its api key comes from ``ARAG_API_KEY`` or
``OPENAI_API_KEY``, else the placeholder ``"not-needed"`` (local servers ignore it, the SDK
insists on one).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import os
import threading
import weakref
from typing import Any
from urllib.parse import urlsplit

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableBinding, RunnableWithFallbacks

from tools.llm.deadline import http_clients

DEFAULT_OPENAI_SPEC = "openai:gpt-4o-mini"
DEFAULT_GROQ_SPEC = "groq:llama-3.3-70b-versatile"
OFFLINE_SPECS = frozenset({"none", "offline"})
PLACEHOLDER_API_KEY = "not-needed"

# Prefixes routed to ChatOpenAI against a self-hosted server, with that server's usual
# local address so `ollama:llama3.1` works without also setting ARAG_BASE_URL.
COMPATIBLE_DEFAULT_URLS = {
    "openai-compatible": None,  # no sensible default: a base URL is required
    "vllm": "http://localhost:8000/v1",
    "ollama": "http://localhost:11434/v1",
    "llamacpp": "http://localhost:8080/v1",
}
SUPPORTED_PREFIXES = ("openai", "groq", *COMPATIBLE_DEFAULT_URLS)

# Per event loop: an async HTTP client's pooled connections belong to the loop that opened
# them, so a model reused from another loop (a second asyncio.run) would fail on a dead loop.
_cache: dict[tuple[Any, ...], BaseChatModel] = {}
_loop_caches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict] = (
    weakref.WeakKeyDictionary()
)
_cache_lock = threading.Lock()


def _models_for_this_loop() -> dict[tuple[Any, ...], BaseChatModel]:
    """The model cache of the running event loop (or of sync callers, outside any loop)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _cache
    return _loop_caches.setdefault(loop, {})


def resolve_model_spec(explicit: str | None = None) -> str | None:
    """Pick the model spec, or None for offline mode (no LLM at all).

    Precedence: a non-empty ``explicit`` spec (callers pass ``Context.model``, which already
    holds ``ARAG_MODEL``), then ``openai:gpt-4o-mini`` when ``OPENAI_API_KEY`` is set, then
    ``groq:llama-3.3-70b-versatile`` when ``GROQ_API_KEY`` is set. ``"none"`` or
    ``"offline"`` forces offline mode.
    """
    if explicit and explicit.strip():
        spec = explicit.strip()
        return None if spec.lower() in OFFLINE_SPECS else spec
    if os.environ.get("OPENAI_API_KEY"):
        return DEFAULT_OPENAI_SPEC
    if os.environ.get("GROQ_API_KEY"):
        return DEFAULT_GROQ_SPEC
    return None


def load_chat_model(
    spec: str,
    *,
    base_url: str | None = None,
    temperature: float = 0.0,
    timeout: float = 60.0,
    max_retries: int = 2,
    max_tokens: int | None = None,
) -> BaseChatModel:
    """Build (or reuse) the chat model for ``spec`` via ``init_chat_model``.

    ``max_retries`` is the SDK's own retry budget for 408/409/429/5xx and connection errors;
    it honours ``Retry-After``, and the SDK's HTTP client carries :mod:`tools.llm.deadline`'s
    transport, so retries stop at the deadline of the calling scope. Instances are cached per
    (spec, base URL, temperature, timeout, max_retries, api-key fingerprint), so repeated calls
    are cheap and a changed key in the environment still yields a fresh client.

    Raises:
        ValueError: unknown provider prefix, empty model name, or a compatible-server
            prefix with no base URL. Messages never contain api keys.

    """
    provider, model_name = _split_spec(spec)
    if provider in COMPATIBLE_DEFAULT_URLS:
        base_url = base_url or COMPATIBLE_DEFAULT_URLS[provider]
        if not base_url:
            msg = f"Model spec {spec!r} needs a base URL (argument or ARAG_BASE_URL)."
            raise ValueError(msg)

    kwargs: dict[str, Any] = {
        "temperature": temperature,
        "timeout": timeout,
        "max_retries": max_retries,
        # Structured calls (grader, checker, rewrite) are read whole: under a chat UI's
        # messages stream they would otherwise be streamed for nobody (they are nostream),
        # and a provider's tool-call errors arrive mid-stream instead of as one response.
        "disable_streaming": "tool_calling",
    }
    if max_tokens:
        # A bound on every reply: a small local model otherwise rambles until its context is
        # full (minutes on a CPU), and a cloud model bills every token.
        kwargs["max_tokens"] = max_tokens
    if provider == "groq":
        init_provider = "groq"
        sdk_name = "groq"
        api_key = os.environ.get("GROQ_API_KEY")
        if base_url:
            # The Groq SDK appends /openai/v1/chat/completions itself; accept the
            # OpenAI-style URL people copy from Groq's docs as well.
            kwargs["base_url"] = _strip_suffix(base_url.rstrip("/"), "/openai/v1")
    elif base_url:
        init_provider = sdk_name = "openai"
        api_key = (
            os.environ.get("ARAG_API_KEY")
            or os.environ.get("OPENAI_API_KEY")
            or PLACEHOLDER_API_KEY
        )
        kwargs["base_url"] = base_url
        kwargs["api_key"] = api_key
        if max_tokens:
            # ChatOpenAI sends max_completion_tokens, which llama.cpp's server ignores; vLLM,
            # Ollama and llama.cpp all honour the classic field.
            kwargs["extra_body"] = {"max_tokens": max_tokens}
    else:
        init_provider = sdk_name = "openai"
        api_key = os.environ.get("OPENAI_API_KEY")
    if init_provider == "openai":
        # Streamed calls (the answer always; every call under a chat UI's messages stream)
        # report their tokens only when asked (stream_options.include_usage): usage sums them.
        kwargs["stream_usage"] = True

    if not api_key:
        # The SDKs would raise "The api_key client option must be set" from deep inside the
        # graph; say which variable is missing, at the edge, before any question is asked.
        env = "GROQ_API_KEY" if provider == "groq" else "OPENAI_API_KEY"
        msg = (
            f"Model spec {spec!r} needs {env} in the environment "
            "(or ARAG_MODEL=offline for extractive answers without an LLM)."
        )
        raise ValueError(msg)

    key = (spec, base_url, temperature, timeout, max_retries, max_tokens, _fingerprint(api_key))
    with _cache_lock:
        cache = _models_for_this_loop()
        model = cache.get(key)
        if model is None:
            kwargs |= http_clients(importlib.import_module(sdk_name))
            model = init_chat_model(model_name, model_provider=init_provider, **kwargs)
            cache[key] = model
    return model


def fallback_errors() -> tuple[type[BaseException], ...]:
    """Errors after which the fallback model is tried: the provider is down, slow or busy.

    Rate limits, 5xx, timeouts, dropped connections and garbled bodies, once the SDK's own
    retries are spent. Not 400/401/403/404: a bad request or a wrong key is a configuration
    error that another model would not fix, and Groq's 400 ``tool_use_failed`` carries output
    that ``tools.llm.structured`` repairs.
    """
    import groq
    import httpx
    import openai

    errors: list[type[BaseException]] = [
        openai.APIConnectionError,  # includes APITimeoutError
        openai.RateLimitError,
        openai.InternalServerError,
        openai.APIResponseValidationError,
        groq.APIConnectionError,
        groq.RateLimitError,
        groq.InternalServerError,
        groq.APIResponseValidationError,
        httpx.TransportError,
        json.JSONDecodeError,
        TimeoutError,
        ConnectionError,
    ]
    try:
        import httpx2  # the transport of newer openai SDKs
    except ImportError:
        pass
    else:
        errors.append(httpx2.TransportError)
    return tuple(errors)


def with_fallback(primary: BaseChatModel, fallback: BaseChatModel | None) -> Runnable:
    """``primary``, falling back to ``fallback`` on :func:`fallback_errors` (None: primary).

    LangChain's ``with_fallbacks``: ``bind_tools`` and other model methods apply to both models.
    """
    if fallback is None:
        return primary
    return primary.with_fallbacks([fallback], exceptions_to_handle=fallback_errors())


def clear_model_cache() -> None:
    """Forget cached model instances (tests, or after rotating credentials)."""
    with _cache_lock:
        _cache.clear()
        _loop_caches.clear()


def provider_of(model: Any) -> str:
    """Name the provider behind ``model`` (bindings such as ``model.bind(...)`` unwrapped).

    For a model with fallbacks, the primary model's provider. Returns ``"openai"``,
    ``"openai-compatible"`` (ChatOpenAI with a non-OpenAI base URL),
    ``"groq"``, or the class name lowercased for anything else.
    """
    model = _primary(model)
    name = type(model).__name__
    if name == "ChatGroq":
        return "groq"
    if name == "ChatOpenAI":
        base = getattr(model, "openai_api_base", None)
        if not base or (urlsplit(base).hostname or "").endswith("api.openai.com"):
            return "openai"
        return "openai-compatible"
    return name.lower()


def supports_logprobs(model: Any) -> bool:
    """Whether token logprobs can be requested: ChatOpenAI (incl. compatible servers) only.

    Groq's API rejects ``logprobs``, so its models use verbalized confidence instead. A model
    with fallbacks supports them only if every model in the chain does (the same request goes
    to each).
    """
    model = _unwrap(model)
    if isinstance(model, RunnableWithFallbacks):
        return all(supports_logprobs(m) for m in model.runnables)
    return provider_of(model) in {"openai", "openai-compatible"}


def _split_spec(spec: str) -> tuple[str, str]:
    # Error messages echo at most the provider prefix: a mistyped ARAG_MODEL can hold
    # anything, including a pasted api key.
    provider, sep, model_name = (spec or "").strip().partition(":")
    provider = provider.lower()
    supported = ", ".join(SUPPORTED_PREFIXES)
    if not sep:
        msg = f"Model spec must look like 'provider:model' with provider one of: {supported}."
        raise ValueError(msg)
    if provider not in SUPPORTED_PREFIXES:
        shown = repr(provider) if len(provider) <= 24 else "(a long string, not shown)"
        msg = f"Unknown model provider {shown}; supported prefixes: {supported}."
        raise ValueError(msg)
    if not model_name.strip():
        msg = f"Model spec for {provider!r} has no model name after the colon."
        raise ValueError(msg)
    return provider, model_name.strip()


def _unwrap(model: Any) -> Any:
    while isinstance(model, RunnableBinding):
        model = model.bound
    return model


def _primary(model: Any) -> Any:
    model = _unwrap(model)
    while isinstance(model, RunnableWithFallbacks):
        model = _unwrap(model.runnable)
    return model


def _strip_suffix(text: str, suffix: str) -> str:
    return text[: -len(suffix)] if text.endswith(suffix) else text


def _fingerprint(secret: str | None) -> str | None:
    # The cache key must change when the key changes, without keeping the key itself around.
    return hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else None
