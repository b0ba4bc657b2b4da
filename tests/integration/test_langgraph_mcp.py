"""The LangGraph server's own ``/mcp`` (langgraph-api) under ``langgraph dev``, with the mcp client.

It serves the graph: one tool per assistant (the graph's own is ``adaptive_rag``) whose input
is the graph's input schema, behind ``langgraph.json``'s auth. What it returns is the run's
whole output state as Python ``repr`` text, with no structured content (see README, "MCP");
``arag serve``'s ``/mcp`` is the one with ``ask`` and ``search``.
"""

from __future__ import annotations

import httpx2
import pytest
from mcp import ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client

from tests.serving import langgraph_dev

pytestmark = pytest.mark.integration

ALICE = "alice-key-0123456789abcdef"


@pytest.fixture(scope="module")
def dev_server(sample_data_dir, tmp_path_factory):
    with langgraph_dev(
        sample_data_dir, tmp_path_factory.mktemp("langgraph-mcp"), ARAG_API_KEYS=f"alice:{ALICE}"
    ) as server:
        yield server


async def test_langgraph_mcp_serves_the_graph_as_one_tool(dev_server):
    headers = {"X-Api-Key": ALICE}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=120) as http,
        streamable_http_client(dev_server.url + "/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        assert init.server_info.name == "LangGraph"
        # One tool per assistant: the graph's own, plus any an earlier run created (langgraph
        # dev keeps its assistants in .langgraph_api between runs).
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert "messages" in tools["adaptive_rag"].input_schema["properties"]
        result = await session.call_tool(
            "adaptive_rag", {"messages": [{"role": "user", "content": "What year did Tesla die?"}]}
        )
    assert not result.is_error and result.structured_content is None
    text = result.content[0].text
    assert "Tesla died on 7 January 1943 [1]" in text and "nikola_tesla.md" in text
    assert "'route': 'retrieval'" in text  # the output state as Python repr, not JSON


async def test_langgraph_mcp_requires_the_key(dev_server):
    statuses: list[int] = []

    async def record(response: httpx2.Response) -> None:
        statuses.append(response.status_code)

    with pytest.raises(ExceptionGroup) as caught:
        async with (
            httpx2.AsyncClient(timeout=60, event_hooks={"response": [record]}) as http,
            streamable_http_client(dev_server.url + "/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
    assert caught.group_contains(MCPError) and statuses == [401]
