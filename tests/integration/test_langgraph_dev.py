"""A real ``langgraph dev`` server driven through ``langgraph_sdk``, with streaming."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dev_server(sample_data_dir, tmp_path_factory):
    cli = Path(sys.executable).with_name("langgraph")
    if not cli.exists():
        cli = shutil.which("langgraph")
    if not cli:
        pytest.skip("langgraph CLI not installed (pip install -e '.[dev]')")
    port = _free_port()
    # The log lives outside the project: the dev server's file watcher would otherwise reload.
    log_path = tmp_path_factory.mktemp("langgraph-dev") / "server.log"
    env = {
        **os.environ,
        "ARAG_DATA_DIR": str(sample_data_dir),
        "ARAG_MODEL": "offline",
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(cli), "dev", "--no-browser", "--no-reload", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"langgraph dev exited early:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            proc.kill()
            pytest.fail(f"langgraph dev did not start:\n{log_path.read_text()[-3000:]}")
        yield url, log_path
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_thread_streams_updates_and_answer_with_citations(dev_server):
    from langgraph_sdk import get_client

    url, log_path = dev_server
    client = get_client(url=url)
    assistant = await client.assistants.create(graph_id="adaptive_rag", context={"k": 3})
    thread = await client.threads.create()
    events: list[tuple[str, object]] = []
    async for part in client.runs.stream(
        thread["thread_id"],
        assistant["assistant_id"],
        input={"messages": [{"role": "user", "content": "What year did Tesla die?"}]},
        stream_mode=["messages", "updates"],
    ):
        events.append((part.event, part.data))
    kinds = {e for e, _ in events}
    assert "updates" in kinds, kinds
    # The answer message also arrives on the messages stream, which is what chat UIs render.
    streamed = [d for e, d in events if e.startswith("messages") and isinstance(d, list)]
    assert any("1943" in str(m[0].get("content", "")) for m in streamed if m), kinds
    updated_nodes = [next(iter(d)) for e, d in events if e == "updates" and isinstance(d, dict)]
    assert updated_nodes[0] == "condense_question"
    # translate_question and probe_corpus run in the same step; their updates arrive in any order.
    assert set(updated_nodes[1:3]) == {"translate_question", "probe_corpus"}
    assert updated_nodes[3] == "check_confidence"
    assert updated_nodes[-1] == "respond"

    state = await client.threads.get_state(thread["thread_id"])
    values = state["values"]
    assert values["route"] == "retrieval"
    assert values["mode"] == "offline"
    assert "1943" in values["answer"]
    assert values["citations"] and values["citations"][0]["source"].endswith("nikola_tesla.md")
    assert "extractive answer (no LLM configured)" in values["messages"][-1]["content"]
    history = await client.threads.get_history(thread["thread_id"])
    assert len(history) >= 5
    assert "BlockingError" not in log_path.read_text()


async def test_second_turn_uses_thread_history(dev_server):
    from langgraph_sdk import get_client

    url, _ = dev_server
    client = get_client(url=url)
    thread = await client.threads.create()
    for question in ("What year did Tesla die?", "Who did he partner with in 1886?"):
        await client.runs.wait(
            thread["thread_id"],
            "adaptive_rag",
            input={"messages": [{"role": "user", "content": question}]},
        )
    values = (await client.threads.get_state(thread["thread_id"]))["values"]
    assert len(values["messages"]) == 4
    first_step = values["path"][0]
    assert first_step["node"] == "condense_question"
    assert first_step["decision"] == "offline_context"
    assert "Robert Lane" in values["answer"]


async def test_graph_drawing_and_context_schema_come_back(dev_server):
    from langgraph_sdk import get_client

    url, _ = dev_server
    client = get_client(url=url)
    assistants = await client.assistants.search(graph_id="adaptive_rag")
    assistant_id = assistants[0]["assistant_id"]
    drawing = await client.assistants.get_graph(assistant_id)
    node_ids = {n["id"] for n in drawing["nodes"]}
    assert {"check_confidence", "grade_documents", "rewrite_query", "check_answer"} <= node_ids
    schemas = await client.assistants.get_schemas(assistant_id)
    props = schemas["context_schema"]["properties"]
    assert {"model", "k", "max_rewrites", "confidence_high", "data_dir"} <= set(props)
    assert "provider:model" in props["model"]["description"]
