"""Web search fallback behind a small interface.

``load_web_search("none")`` returns a no-op whose ``available`` is False, so the graph can show a
visible "web search not configured" route instead of silently skipping. A Tavily backend plugs in
here as a new branch of ``load_web_search``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class WebResult:
    """One web result; the URL is kept so answers can cite it."""

    title: str
    url: str
    content: str


@runtime_checkable
class WebSearch(Protocol):
    """Searches the web and returns results with title, URL and content."""

    name: str
    available: bool

    def search(self, query: str, max_results: int = 5) -> list[WebResult]:
        """Return up to ``max_results`` results; raise on transport errors."""
        ...


class NoWebSearch:
    """The default: web search is not configured; searching returns nothing."""

    name = "none"
    available = False

    def search(self, query: str, max_results: int = 5) -> list[WebResult]:
        """Return no results."""
        return []


def load_web_search(spec: str = "none") -> WebSearch:
    """Return the web search backend named by ``spec`` ("none"; "tavily" arrives later)."""
    match (spec or "none").lower():
        case "none" | "":
            return NoWebSearch()
        case other:
            raise ValueError(f"Unknown web search backend {other!r}; supported: none")
