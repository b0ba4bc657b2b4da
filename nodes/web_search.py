"""Web search fallback: used when the corpus has nothing relevant. Results keep their URLs."""

from __future__ import annotations

from graph.config import Context
from graph.services import Services
from graph.state import Doc, State
from nodes.common import describe_error, step

NODE = "web_search"


def web_search(state: State, ctx: Context, services: Services) -> dict:
    """Search the web for the retrieval query; the route stays visible when it is unavailable."""
    web = services.web(ctx)
    base = {"web_searched": True, "relevant_ids": [], "documents": []}
    if not web.available:
        return base | {
            "flags": ["web_search_not_configured"],
            "path": step(NODE, "not_configured", "web search is not configured (ARAG_WEB_SEARCH)"),
        }
    try:
        results = web.search(state["retrieval_query"], max_results=ctx.k)
    except Exception as exc:  # any backend failure degrades to a visible route, never a crash
        return base | {
            "flags": ["web_search_unavailable"],
            "path": step(NODE, "unavailable", f"web search unavailable ({describe_error(exc)})"),
        }
    docs: list[Doc] = [
        {"id": r.url, "content": r.content, "source": r.url, "title": r.title, "score": 1.0}
        for r in results
    ]
    return base | {
        "documents": docs,
        "relevant_ids": [d["id"] for d in docs],
        "route": "web",
        "path": step(NODE, f"{len(docs)} results", f"{web.name} search"),
    }
