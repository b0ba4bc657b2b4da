"""Web search fallback: used when the corpus has nothing relevant. Results keep their URLs."""

from __future__ import annotations

from graph.config import Context
from graph.services import Services
from graph.state import Doc, State
from nodes.common import step
from tools.llm.errors import describe_error
from tools.web_search import WebSearchError

NODE = "web_search"


def _unavailable(reason: str) -> dict:
    """The update of a failed search: a flag, a failure record and the path step."""
    cause = f"web search unavailable: {reason}"
    return {
        "flags": ["web_search_unavailable"],
        "failures": [{"node": NODE, "kind": "web_search", "cause": cause}],
        "path": step(NODE, "unavailable", cause),
    }


async def web_search(state: State, ctx: Context, services: Services) -> dict:
    """Search the web for the retrieval query; every result becomes a citable document.

    The route stays visible when search is off (``web_search_not_configured``) or fails
    (``web_search_unavailable``, with the reason in the path); the run never crashes here.
    """
    base = {"web_searched": True, "relevant_ids": [], "documents": []}
    try:
        web = services.web(ctx)
    except ValueError as exc:  # a misspelt ARAG_WEB_SEARCH: say so rather than fail the run
        return base | _unavailable(str(exc))
    if not web.available:
        return base | {
            "flags": ["web_search_not_configured"],
            "path": step(NODE, "not_configured", web.unavailable_reason),
        }
    try:
        results = await web.asearch(state["retrieval_query"], max_results=ctx.web_max_results)
    except WebSearchError as exc:
        return base | _unavailable(str(exc))
    except Exception as exc:  # a third-party backend's own error: degrade, never crash
        return base | _unavailable(describe_error(exc))
    docs: list[Doc] = []
    for r in results:
        if r.url not in {d["id"] for d in docs}:
            docs.append(
                {
                    "id": r.url,
                    "content": r.content,
                    "source": r.url,
                    "title": r.title,
                    "score": 1.0,
                    "display": r.url,
                }
            )
    return base | {
        "documents": docs,
        "relevant_ids": [d["id"] for d in docs],
        "route": "web",
        "path": step(NODE, f"{len(docs)} results", f"{web.name} search"),
    }
