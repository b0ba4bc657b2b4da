"""The MCP server driven by the official ``mcp`` client: ``arag mcp`` over stdio (a real
subprocess) and ``/mcp`` on a real ``arag serve``, offline, over the sample corpus.
"""

from __future__ import annotations

import json
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import SAMPLE_CORPUS
from tests.serving import ROOT, arag_serve, copy_index, server_env

pytestmark = pytest.mark.integration

ALICE = "alice-key-0123456789abcdef"
WRONG = "not-a-key-0123456789abcdef"
TESLA = "What year did Tesla die?"


def arag_command() -> str:
    """The installed ``arag`` console script, the command an MCP client config names."""
    script = Path(sys.executable).with_name("arag")
    if not script.exists():
        pytest.skip("the arag console script is not installed (make install-dev)")
    return str(script)


@asynccontextmanager
async def stdio_session(data_dir: Path):
    params = StdioServerParameters(
        command=arag_command(), args=["mcp"], env=server_env(data_dir), cwd=str(ROOT)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def http_session(url: str, headers: dict[str, str], statuses: list[int] | None = None):
    async def record(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    hooks = {"response": [record]}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=120, event_hooks=hooks) as http,
        streamable_http_client(url + "/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def assert_tesla_answer(result) -> None:
    """What a user sees for the Tesla question: the year, its source, the route."""
    assert not result.is_error
    text = result.content[0].text
    assert "1943 [1]" in text and "\n\nSources:\n[1] Nikola Tesla — nikola_tesla.md" in text
    answer = result.structured_content
    assert "1943" in answer["answer"] and "Sources:" not in answer["answer"]
    (citation,) = answer["citations"]
    assert citation["n"] == 1 and citation["source"] == "nikola_tesla.md"
    assert citation["id"].startswith("nikola_tesla.md#")  # not the server's path to the file
    assert (answer["route"], answer["mode"], answer["flags"]) == ("retrieval", "offline", [])


def assert_public_search(result, expected_first: str) -> list[dict]:
    assert not result.is_error
    hits = result.structured_content["hits"]
    assert hits and hits[0]["source"] == expected_first and hits[0]["rank"] == 1
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    everything = json.dumps(result.structured_content) + result.content[0].text
    assert str(SAMPLE_CORPUS) not in everything and str(ROOT) not in everything
    assert all(not h["source"].startswith("/") and not h["id"].startswith("/") for h in hits)
    return hits


# stdio ---------------------------------------------------------------------------------------


async def test_stdio_lists_the_tools_answers_with_citations_and_searches(sample_data_dir):
    async with stdio_session(sample_data_dir) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert sorted(tools) == ["ask", "search"]
        assert tools["ask"].input_schema["required"] == ["question"]
        assert tools["ask"].annotations.read_only_hint is True
        assert "citations" in tools["ask"].output_schema["properties"]

        progress: list[str] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(message or "")

        answer = await session.call_tool("ask", {"question": TESLA}, progress_callback=on_progress)
        assert_tesla_answer(answer)
        # The client is told each step as the graph takes it.
        assert progress[0] == "condense_question: first_turn", progress
        assert any(p.startswith("retrieve_documents: ") for p in progress), progress
        assert progress[-1].startswith("respond: "), progress

        result = await session.call_tool("search", {"query": "Tesla alternating current", "k": 3})
        hits = assert_public_search(result, "nikola_tesla.md")
        assert len(hits) <= 3 and hits[0]["title"] == "Nikola Tesla"
        assert "Tesla" in hits[0]["text"]


async def test_stdio_bad_arguments_get_a_clear_tool_error(sample_data_dir):
    async with stdio_session(sample_data_dir) as session:
        empty = await session.call_tool("ask", {"question": "   "})
        assert empty.is_error
        assert "The question is empty" in empty.content[0].text

        missing = await session.call_tool("ask", {})
        assert missing.is_error
        assert "question" in missing.content[0].text and "required" in missing.content[0].text

        too_many = await session.call_tool("search", {"query": "oxygen", "k": 500})
        assert too_many.is_error and "less than or equal to 20" in too_many.content[0].text

        blank = await session.call_tool("search", {"query": ""})
        assert blank.is_error and "The query is empty" in blank.content[0].text


async def test_stdio_without_an_index_says_how_to_build_one(tmp_path):
    empty = tmp_path / "no-index"
    empty.mkdir()
    async with stdio_session(empty) as session:
        searched = await session.call_tool("search", {"query": "oxygen"})
        assert searched.is_error and "arag ingest" in searched.content[0].text
        assert str(tmp_path) not in searched.content[0].text  # the server's folders stay private

        asked = await session.call_tool("ask", {"question": TESLA})
        assert asked.is_error and asked.structured_content["route"] == "error"
        assert "arag ingest" in asked.content[0].text


# Streamable HTTP in arag serve ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server(sample_data_dir, tmp_path_factory):
    data = copy_index(sample_data_dir, tmp_path_factory.mktemp("mcp-serve") / "data")
    with arag_serve(
        data, tmp_path_factory.mktemp("mcp-serve-logs"), ARAG_API_KEYS=f"alice:{ALICE}"
    ) as proc:
        yield proc


async def test_http_answers_and_searches_with_a_bearer_key(server):
    async with http_session(server.url, {"Authorization": f"Bearer {ALICE}"}) as session:
        assert sorted(t.name for t in (await session.list_tools()).tools) == ["ask", "search"]
        assert_tesla_answer(await session.call_tool("ask", {"question": TESLA}))
        result = await session.call_tool("search", {"query": "oxygen combustion", "k": 2})
        assert len(assert_public_search(result, "oxygen.md")) == 2
        empty = await session.call_tool("ask", {"question": ""})
        assert empty.is_error and "The question is empty" in empty.content[0].text
    log = server.log()
    assert '"path": "/mcp"' in log and '"owner": "alice"' in log
    assert ALICE not in log


async def test_http_accepts_the_key_as_x_api_key(server):
    async with http_session(server.url, {"X-Api-Key": ALICE}) as session:
        assert_tesla_answer(await session.call_tool("ask", {"question": TESLA}))


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": f"Bearer {WRONG}"}, "Invalid API key."),
        ({"X-Api-Key": WRONG}, "Invalid API key."),
        ({}, "Missing API key: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'."),
    ],
)
async def test_http_rejects_a_wrong_or_missing_key(server, headers, message):
    statuses: list[int] = []
    with pytest.raises(ExceptionGroup) as caught:
        async with http_session(server.url, headers, statuses):
            pytest.fail("the session opened without a valid key")
    assert caught.group_contains(MCPError)
    assert statuses == [401]
    # What a client without the SDK sees: /v1's error body and challenge.
    init = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    raw = httpx.post(
        server.url + "/mcp",
        json=init,
        headers={**headers, "Accept": "application/json, text/event-stream"},
    )
    assert raw.status_code == 401 and raw.headers["www-authenticate"] == "Bearer"
    assert raw.json()["error"] == {
        "message": message,
        "type": "authentication_error",
        "param": None,
        "code": "invalid_api_key",
    }


def test_http_refuses_a_foreign_host_header(server):
    # DNS rebinding: a web page on another name must not reach a loopback server.
    response = httpx.post(
        server.url + "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={
            "Authorization": f"Bearer {ALICE}",
            "Accept": "application/json, text/event-stream",
            "Host": "attacker.example",
        },
    )
    assert response.status_code == 421


async def test_http_without_keys_is_open_on_loopback_like_v1(sample_data_dir, tmp_path):
    data = copy_index(sample_data_dir, tmp_path / "data")
    with arag_serve(data, tmp_path) as open_server:
        async with http_session(open_server.url, {}) as session:
            assert_tesla_answer(await session.call_tool("ask", {"question": TESLA}))
        assert '"owner": "local"' in open_server.log()
