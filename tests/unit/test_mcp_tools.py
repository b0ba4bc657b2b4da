"""The MCP tools' result shaping: what a client gets from a turn, without server paths."""

from __future__ import annotations

from arag.server.mcp_tools import answer_result
from arag.turn import TurnResult
from tools.index.search import public_id


def test_chunk_ids_show_the_display_name_not_the_server_path():
    assert public_id("/srv/docs/guides/install.md#3", "guides/install.md") == "guides/install.md#3"
    assert public_id("C:\\docs\\a.md#0", "a.md") == "a.md#0"
    assert public_id("https://example.org/page#intro", "https://example.org/page#intro") == (
        "https://example.org/page#intro"
    )
    assert public_id("/srv/docs/notes.md", "notes.md") == "notes.md"  # no chunk number


def test_answer_becomes_text_plus_structured_fields():
    turn = TurnResult(
        content="Paris [1].\n\nSources:\n[1] France — geo/france.md",
        answer="Paris [1].",
        citations=[{"n": 1, "id": "geo/france.md#0", "title": "France", "source": "geo/france.md"}],
        route="retrieval",
        mode="offline",
        flags=["offline"],
    )
    result = answer_result(turn)
    assert not result.is_error
    assert result.content[0].text == turn.content
    assert result.structured_content == {
        "answer": "Paris [1].",
        "citations": [
            {"n": 1, "title": "France", "source": "geo/france.md", "id": "geo/france.md#0"}
        ],
        "route": "retrieval",
        "mode": "offline",
        "flags": ["offline"],
    }


def test_an_error_route_is_a_tool_error_without_server_folders():
    turn = TurnResult(
        content="No index at /srv/app/.arag: run `arag ingest PATH` first.", route="error"
    )
    result = answer_result(turn)
    assert result.is_error
    assert result.content[0].text == "No index at .arag: run `arag ingest PATH` first."


async def test_ask_is_marked_open_world_only_when_web_search_is_on(tmp_path):
    from arag.server.mcp_tools import build_mcp
    from graph.config import Context

    def no_runner():
        raise AssertionError("listing tools runs nothing")

    for web, expected in (("none", False), ("tavily", True)):
        server = build_mcp(no_runner, Context(data_dir=str(tmp_path), web_search=web))
        tools = {t.name: t for t in await server.list_tools()}
        assert tools["ask"].annotations.open_world_hint is expected
        assert tools["search"].annotations.open_world_hint is False
        assert tools["search"].annotations.read_only_hint is True
