"""The MCP server: tools ``ask`` and ``search`` over the same runner and index as ``/v1``.

Built with the official SDK's ``MCPServer`` (``mcp`` 2.x; FastMCP in 1.x). ``ask`` is one
stateless turn through ``Runner.run``, the code ``POST /v1/chat/completions`` uses, so the
answer, citations, route and flags are the ones a chat client gets. ``search`` is the graph's
own index search (``tools.index.search.search``) without the rest of the graph: ranked chunks
with their display names, never a path on the server.

Both transports use this one server: ``arag mcp`` (stdio, ``arag.server.cli``) and
``/mcp`` in ``arag serve`` (``arag.server.mcp_http``, with the ``/v1`` keys). The caller's
key name reaches the tools as ``OWNER_SCOPE_KEY`` in the ASGI scope's state; over stdio the
caller is ``LOCAL_OWNER``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import replace
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from arag.server.access import Access
from arag.server.auth import LOCAL_OWNER
from arag.server.errors import ApiError
from arag.server.health import public_reason
from arag.server.runner import Final, Runner, Step
from arag.server.turns import filter_context
from graph.config import Context as RunContext
from graph.services import Services
from tools.index.base import IndexError_
from tools.index.filters import DocFilter
from tools.workspaces import DEFAULT_WORKSPACE

SERVER_NAME = "adaptive-rag"
OWNER_SCOPE_KEY = "arag_owner"
"""Where ``mcp_http`` leaves the caller's key name in ``scope["state"]``."""
MAX_QUESTION_CHARS = 20_000
"""Longer ``ask`` questions and ``search`` queries are refused (the graph truncates at 4,000)."""
MAX_SEARCH_K = 20
FILTERS_HELP = (
    "Only documents matching all of: source_prefix (path or URL starts with it), tags (any "
    "of), file_types (md, pdf, html, ...), ingested_after / ingested_before (ISO-8601)"
)
WORKSPACE_HELP = "The workspace (collection of documents) to answer from; 'default' if omitted"


class Citation(BaseModel):
    """A numbered source of the answer: ``[n]`` in the text."""

    n: int
    title: str
    source: str = Field(description="The document's path under the ingest root, or its URL")
    id: str = Field(description="Chunk id (source#n) or URL")
    section: str | None = None
    pages: list[int] | None = None


class Answer(BaseModel):
    """What ``ask`` returns besides the text (the answer with its numbered sources)."""

    answer: str = Field(description="The answer with its [n] citation markers")
    citations: list[Citation]
    route: str = Field(
        description="closed_book, retrieval, web, insufficient, invalid_input or error"
    )
    mode: str = Field(description="llm or offline (extractive answers, no LLM configured)")
    flags: list[str] = Field(description="Everything noteworthy raised during the turn")


class Hit(BaseModel):
    """One ranked chunk of ``search``."""

    rank: int
    title: str
    source: str = Field(description="The document's path under the ingest root, or its URL")
    id: str = Field(description="Chunk id (source#n)")
    score: float = Field(description="Calibrated relevance in [0, 1]")
    text: str
    section: str | None = None
    page: int | None = None


class SearchResults(BaseModel):
    """What ``search`` returns."""

    query: str
    hits: list[Hit]


def _owner(ctx: Context) -> str:
    """The caller's key name: set by ``mcp_http`` over HTTP, ``LOCAL_OWNER`` over stdio.

    An HTTP request that did not pass ``mcp_http.RequireKey`` is refused, not run as ``local``.
    """
    request = ctx.request_context.request
    if request is None:  # stdio: the user who started the process
        return LOCAL_OWNER
    owner = (request.scope.get("state") or {}).get(OWNER_SCOPE_KEY)
    if owner is None:
        raise ToolError("This request was not authenticated.")
    return owner


def _text(value: str, what: str) -> str:
    """``value`` stripped; a ``ToolError`` saying what to send when it is empty or too long."""
    value = value.strip()
    if not value:
        raise ToolError(f"The {what} is empty: send it as text, e.g. 'What year did Tesla die?'")
    if len(value) > MAX_QUESTION_CHARS:
        raise ToolError(f"The {what} is longer than {MAX_QUESTION_CHARS} characters.")
    return value


def answer_result(result: Final) -> CallToolResult:
    """The turn as a tool result: the chat text as content, the fields as structured content.

    A turn that ended on the ``error`` route (the index cannot be read) is a tool error, as
    ``arag ask`` exits 2 for it; its text says what to fix (absolute paths cut to their last
    component, as ``/readyz`` does).
    """
    text = public_reason(result.content) if result.route == "error" else result.content
    citations = [Citation(**c) for c in result.citations]  # ids are public already
    answer = Answer(
        answer=result.answer,
        citations=citations,
        route=result.route,
        mode=result.mode,
        flags=result.flags,
    )
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=answer.model_dump(mode="json", exclude_none=True),
        is_error=result.route == "error",
    )


def build_mcp(
    runner: Callable[[], Runner],
    run_context: RunContext,
    *,
    timeout: float = 300.0,
    access: Access | None = None,
) -> MCPServer:
    """The MCP server over ``runner()`` (resolved per call) and the index of ``run_context``.

    ``access`` checks each call's ``workspace`` against the caller's grants; without it
    (stdio: the user who started the process) every workspace is open.
    """
    access = access or Access({}, run_context.data_dir, keyed=False)
    server = MCPServer(
        SERVER_NAME,
        instructions=(
            "Answers questions from the documents ingested into this server, with numbered "
            "citations. Use `ask` for an answer, `search` to see the matching passages."
        ),
    )
    services = Services()  # search only: caches the open index, as the runner's graph does
    corpus_only = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
    # With web search configured, a question the corpus does not cover goes to the web.
    web = run_context.web_search.strip().lower() not in {"", "none"}
    answers = ToolAnnotations(readOnlyHint=True, openWorldHint=web)

    @server.tool(annotations=answers)
    async def ask(
        question: Annotated[str, Field(description="The question, in any language")],
        ctx: Context,
        workspace: Annotated[str, Field(description=WORKSPACE_HELP)] = DEFAULT_WORKSPACE,
        filters: Annotated[dict[str, Any] | None, Field(description=FILTERS_HELP)] = None,
    ) -> Annotated[CallToolResult, Answer]:
        """Answer a question from the ingested documents, with numbered citations.

        Each call is one stateless turn: ask a complete question (no follow-ups by reference).
        """
        messages = [{"role": "user", "content": _text(question, "question")}]
        owner, final = _owner(ctx), None
        context = {"workspace": await _workspace(access, owner, workspace)} | _filters(filters)
        try:
            async with (
                asyncio.timeout(timeout),
                aclosing(runner().run(messages, None, owner, context)) as events,
            ):
                steps = 0
                async for event in events:
                    if isinstance(event, Step):
                        steps += 1
                        where = f"{event.step['node']}: {event.step['decision']}"
                        await ctx.report_progress(steps, None, where)
                    elif isinstance(event, Final):
                        final = event
        except TimeoutError:
            raise ToolError(f"The answer took longer than {timeout:g} s.") from None
        except ApiError as exc:
            raise ToolError(exc.message) from None
        assert final is not None  # run() always ends with a Final or raises
        return answer_result(final)

    @server.tool(annotations=corpus_only)
    async def search(
        query: Annotated[str, Field(description="What to look for, in the corpus' language")],
        ctx: Context,
        k: Annotated[int, Field(ge=1, le=MAX_SEARCH_K, description="How many chunks")] = 5,
        workspace: Annotated[str, Field(description=WORKSPACE_HELP)] = DEFAULT_WORKSPACE,
        filters: Annotated[dict[str, Any] | None, Field(description=FILTERS_HELP)] = None,
    ) -> SearchResults:
        """Search the ingested documents: the best-matching chunks, best first, with sources.

        The graph's own hybrid (keyword + vector) search, without an answer.
        """
        query = _text(query, "query")
        where = replace(run_context, workspace=await _workspace(access, _owner(ctx), workspace))
        doc_filter = DocFilter.parse(_filters(filters).get("filters"))
        try:
            index = await asyncio.to_thread(services.open_index, where)
            docs = await asyncio.to_thread(
                _search, index, query, k, run_context.multihop, doc_filter
            )
        except IndexError_ as exc:
            raise ToolError(public_reason(str(exc))) from None
        return SearchResults(query=query, hits=[_hit(n, d) for n, d in enumerate(docs, 1)])

    return server


async def _workspace(access: Access, owner: str, workspace: str) -> str:
    """``workspace`` if ``owner`` may read it, else a tool error (the /v1 message: not found)."""
    try:
        return await access.areadable(owner, workspace)
    except ApiError as exc:
        raise ToolError(exc.message) from None


def _filters(filters: dict[str, Any] | None) -> dict[str, Any]:
    """``{"filters": ...}`` for the run's context once checked, else a tool error saying why."""
    try:
        return filter_context(filters)  # the /v1 check; its 400 becomes the tool's error
    except ApiError as exc:
        raise ToolError(exc.message) from None


def _search(index: Any, query: str, k: int, multihop: bool, filters: DocFilter) -> list[Any]:
    from tools.index.search import search

    return search(index, query, k, multihop=multihop, filters=filters)[:k]


def _hit(rank: int, doc: Any) -> Hit:
    from tools.index.search import display_name, public_id

    return Hit(
        rank=rank,
        title=doc["title"],
        source=display_name(doc),
        id=public_id(doc["id"], display_name(doc)),
        score=doc["score"],
        text=doc["content"],
        section=doc.get("section"),
        page=doc.get("page"),
    )
