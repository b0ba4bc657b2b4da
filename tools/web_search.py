"""Web search fallback behind a small interface: a no-op and Tavily.

``load_web_search("none")`` returns a no-op whose ``available`` is False, so the graph shows a
visible "web search not configured" route instead of silently skipping. ``"tavily"`` uses the
real ``tavily-python`` clients; its key comes only from ``TAVILY_API_KEY``.

Every backend failure is raised as :class:`WebSearchError` with a one-line, secret-free message
(the web-search node turns it into the "web search unavailable" route).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

SEARCH_DEPTHS = ("basic", "advanced", "fast", "ultra-fast")


@dataclass(frozen=True)
class WebResult:
    """One web result; the URL is kept so answers can cite it."""

    title: str
    url: str
    content: str
    score: float = 1.0


class WebSearchError(RuntimeError):
    """A web search failed; the message is one secret-free line a user can act on."""


@runtime_checkable
class WebSearch(Protocol):
    """Searches the web and returns results with title, URL and content."""

    name: str
    """The backend's name, shown in the path."""
    available: bool
    """Whether searching can return anything (a key is set, the backend is configured)."""
    unavailable_reason: str | None
    """Why not, when ``available`` is False; None otherwise."""

    def search(self, query: str, max_results: int = 5) -> list[WebResult]:
        """Return up to ``max_results`` results; raise ``WebSearchError`` on failure."""
        ...

    async def asearch(self, query: str, max_results: int = 5) -> list[WebResult]:
        """``search`` without blocking the event loop (the graph's nodes call this one)."""
        ...


class NoWebSearch:
    """The default without a Tavily key: web search is not configured; searching returns nothing."""

    name = "none"
    available = False
    unavailable_reason = "web search is not configured (set TAVILY_API_KEY or ARAG_WEB_SEARCH)"

    def search(self, query: str, max_results: int = 5) -> list[WebResult]:
        """Return no results."""
        return []

    async def asearch(self, query: str, max_results: int = 5) -> list[WebResult]:
        """Return no results."""
        return []


def split_domains(value: str | Sequence[str] | None) -> list[str]:
    """Domains from a comma-separated string (as environment variables give them) or a list."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [d.strip() for d in items if d and d.strip()]


class TavilyWebSearch:
    """Tavily search through ``tavily.TavilyClient`` (sync) and ``AsyncTavilyClient`` (async).

    Args:
        api_key: defaults to ``TAVILY_API_KEY``; without a key the backend reports itself
            unavailable instead of falling into Tavily's keyless mode.
        api_base_url: Tavily API root (``TAVILY_API_BASE_URL``; default https://api.tavily.com).
        search_depth: ``basic``, ``advanced``, ``fast`` or ``ultra-fast``.
        include_domains / exclude_domains: lists or comma-separated strings.
        timeout: seconds one search may take (the SDK caps it at 120).

    """

    name = "tavily"

    def __init__(
        self,
        api_key: str | None = None,
        *,
        api_base_url: str | None = None,
        search_depth: str = "basic",
        include_domains: str | Sequence[str] | None = None,
        exclude_domains: str | Sequence[str] | None = None,
        timeout: float = 15.0,
    ) -> None:
        if search_depth not in SEARCH_DEPTHS:
            raise ValueError(
                f"search depth must be one of {', '.join(SEARCH_DEPTHS)}, not {search_depth!r}"
            )
        self._key = api_key or os.environ.get("TAVILY_API_KEY") or None
        self.api_base_url = api_base_url or os.environ.get("TAVILY_API_BASE_URL") or None
        self.search_depth = search_depth
        self.include_domains = split_domains(include_domains)
        self.exclude_domains = split_domains(exclude_domains)
        self.timeout = float(timeout)
        self.available = self._key is not None
        self.unavailable_reason = None if self.available else "TAVILY_API_KEY is not set"
        self._client: Any = None
        self._aclient: Any = None

    def __repr__(self) -> str:  # never show the key
        return (
            f"TavilyWebSearch(depth={self.search_depth!r}, timeout={self.timeout}, "
            f"include={self.include_domains}, exclude={self.exclude_domains})"
        )

    def _params(self, query: str, max_results: int) -> dict[str, Any]:
        return {
            "query": query,
            "max_results": max(1, min(int(max_results), 20)),
            "search_depth": self.search_depth,
            "include_domains": self.include_domains or None,
            "exclude_domains": self.exclude_domains or None,
            "timeout": self.timeout,
        }

    def _require_key(self) -> None:
        if not self.available:
            raise WebSearchError("Tavily: TAVILY_API_KEY is not set")

    def search(self, query: str, max_results: int = 5) -> list[WebResult]:
        """Search Tavily; results keep title, URL and content. Raises ``WebSearchError``."""
        self._require_key()
        from tavily import TavilyClient

        if self._client is None:
            self._client = TavilyClient(api_key=self._key, api_base_url=self.api_base_url)
        try:
            response = self._client.search(**self._params(query, max_results))
        except Exception as exc:  # every SDK/transport error becomes one clean message
            raise WebSearchError(self._describe(exc)) from None
        return parse_results(response, max_results)

    async def asearch(self, query: str, max_results: int = 5) -> list[WebResult]:
        """Async ``search`` through ``AsyncTavilyClient`` (no blocking I/O in the event loop)."""
        self._require_key()
        from tavily import AsyncTavilyClient

        if self._aclient is None:
            self._aclient = AsyncTavilyClient(api_key=self._key, api_base_url=self.api_base_url)
        try:
            response = await self._aclient.search(**self._params(query, max_results))
        except Exception as exc:
            raise WebSearchError(self._describe(exc)) from None
        return parse_results(response, max_results)

    def _describe(self, exc: BaseException) -> str:
        """What went wrong, in one line, with the API key scrubbed from any echoed text."""
        import tavily.errors as errors

        detail = str(exc).strip()
        status = getattr(getattr(exc, "response", None), "status_code", None)
        match exc:
            case errors.InvalidAPIKeyError():
                text = "Tavily rejected the API key (HTTP 401)"
            case errors.UsageLimitExceededError():
                text = "Tavily rate limit reached (HTTP 429)"
            case errors.ForbiddenError():
                text = "Tavily refused the request: plan or usage limit (HTTP 403/432/433)"
            case errors.BadRequestError():
                text = "Tavily rejected the request (HTTP 400)"
            case errors.TimeoutError():
                text = f"Tavily did not answer within {self.timeout:g} s"
            case json.JSONDecodeError() | ValueError() if status in (None, 200):
                text, detail = "Tavily sent a malformed response", ""
            case _ if status:
                text, detail = f"Tavily server error (HTTP {status})", ""
            case _:
                text, detail = f"cannot reach Tavily ({type(exc).__name__})", ""
        if detail and self._key:
            detail = detail.replace(self._key, "***")
        return f"{text}: {detail[:200]}" if detail else text


def parse_results(response: Any, max_results: int) -> list[WebResult]:
    """``WebResult``s from a Tavily ``/search`` response; entries without a URL are dropped."""
    if not isinstance(response, dict) or not isinstance(response.get("results"), list):
        raise WebSearchError("Tavily sent a response without a results list")
    results = []
    for item in response["results"]:
        if not isinstance(item, dict) or not item.get("url"):
            continue
        content = str(item.get("content") or item.get("raw_content") or "").strip()
        if not content:
            continue
        results.append(
            WebResult(
                title=str(item.get("title") or item["url"]).strip(),
                url=str(item["url"]),
                content=content,
                score=float(item.get("score") or 0.0),
            )
        )
    return results[:max_results]


def load_web_search(
    spec: str = "none",
    *,
    search_depth: str = "basic",
    include_domains: str | Sequence[str] | None = None,
    exclude_domains: str | Sequence[str] | None = None,
    timeout: float = 15.0,
) -> WebSearch:
    """Return the web search backend named by ``spec``: ``"none"`` or ``"tavily"``."""
    match (spec or "none").strip().lower():
        case "none" | "":
            return NoWebSearch()
        case "tavily":
            return TavilyWebSearch(
                search_depth=search_depth,
                include_domains=include_domains,
                exclude_domains=exclude_domains,
                timeout=timeout,
            )
        case other:
            raise ValueError(f"Unknown web search backend {other!r}; supported: none, tavily")


class WebSearchInput(BaseModel):
    """Arguments of the web search tool."""

    query: str = Field(description="What to search the web for")


class WebSearchTool(BaseTool):
    """A web search backend as a LangChain tool, for agents that call tools themselves.

    Returns the results as a JSON list of ``{title, url, content}`` (URLs kept for citations).
    """

    name: str = "web_search"
    description: str = (
        "Search the web. Returns a JSON list of results with title, url and content; cite the url."
    )
    args_schema: type[BaseModel] = WebSearchInput
    backend: Any = Field(default_factory=lambda: TavilyWebSearch())
    """A ``WebSearch``; default: Tavily with ``TAVILY_API_KEY`` from the environment."""
    max_results: int = 5

    def _run(self, query: str, **kwargs: Any) -> str:
        results = self.backend.search(query, max_results=self.max_results)
        return _results_json(results)

    async def _arun(self, query: str, **kwargs: Any) -> str:
        return _results_json(await self.backend.asearch(query, max_results=self.max_results))


def _results_json(results: list[WebResult]) -> str:
    return json.dumps(
        [{"title": r.title, "url": r.url, "content": r.content} for r in results],
        ensure_ascii=False,
    )
