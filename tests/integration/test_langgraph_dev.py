"""A real ``langgraph dev`` server driven through ``langgraph_sdk``, with streaming."""

from __future__ import annotations

import uuid

import httpx
import openai
import pytest

from tests.serving import langgraph_dev

pytestmark = pytest.mark.integration

ALICE = "alice-key-0123456789abcdef"
BOB = "bob-key-0123456789abcdef00"


@pytest.fixture(scope="module")
def dev_server(sample_data_dir, tmp_path_factory):
    """``langgraph dev`` with ``langgraph.json``'s auth (keys for alice and bob) and /v1 app."""
    with langgraph_dev(
        sample_data_dir,
        tmp_path_factory.mktemp("langgraph-dev"),
        ARAG_API_KEYS=f"alice:{ALICE},bob:{BOB}",
    ) as server:
        yield server.url, server.log_path


def sdk(url: str, key: str = ALICE):
    from langgraph_sdk import get_client

    return get_client(url=url, api_key=None, headers={"Authorization": f"Bearer {key}"})


async def test_thread_streams_updates_and_answer_with_citations(dev_server):
    url, log_path = dev_server
    client = sdk(url)
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
    url, _ = dev_server
    client = sdk(url)
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
    url, _ = dev_server
    client = sdk(url)
    assistants = await client.assistants.search(graph_id="adaptive_rag")
    assistant_id = assistants[0]["assistant_id"]
    drawing = await client.assistants.get_graph(assistant_id)
    node_ids = {n["id"] for n in drawing["nodes"]}
    assert {"check_confidence", "grade_documents", "rewrite_query", "check_answer"} <= node_ids
    schemas = await client.assistants.get_schemas(assistant_id)
    props = schemas["context_schema"]["properties"]
    assert {"model", "k", "max_rewrites", "confidence_high", "data_dir"} <= set(props)
    assert "provider:model" in props["model"]["description"]
    # Studio's input and output panes: chat messages in; answer, citations and route out.
    assert "messages" in schemas["input_schema"]["properties"]
    assert {"answer", "citations", "route", "path"} <= set(schemas["output_schema"]["properties"])


async def test_keys_are_required_and_threads_are_owned(dev_server):
    url, _ = dev_server
    anonymous = await httpx.AsyncClient().post(f"{url}/threads", json={})
    assert anonymous.status_code == 401
    alice, bob = sdk(url), sdk(url, BOB)
    thread = await alice.threads.create()
    assert thread["metadata"]["owner"] == "alice"
    with pytest.raises(httpx.HTTPStatusError) as denied:
        await bob.threads.get(thread["thread_id"])
    assert denied.value.response.status_code == 404
    with pytest.raises(httpx.HTTPStatusError):
        await bob.runs.wait(
            thread["thread_id"],
            "adaptive_rag",
            input={"messages": [{"role": "user", "content": "What year did Tesla die?"}]},
        )
    assert thread["thread_id"] not in {t["thread_id"] for t in await bob.threads.search()}


async def test_the_sdks_api_key_header_logs_in(dev_server):
    from langgraph_sdk import get_client

    url, _ = dev_server
    # get_client(api_key=...) sends X-Api-Key, as agent-chat-ui does: it must log in.
    thread = await get_client(url=url, api_key=ALICE).threads.create()
    assert thread["metadata"]["owner"] == "alice"
    with pytest.raises(httpx.HTTPStatusError) as denied:
        await get_client(url=url, api_key="not-a-key-0123456789").threads.create()
    assert denied.value.response.status_code == 401


def test_v1_on_the_langgraph_server_shares_its_threads(dev_server):
    """The /v1 app mounted by http.app: its threads are LangGraph threads (Studio shows them)."""
    url, log_path = dev_server
    llm = openai.OpenAI(base_url=url + "/v1", api_key=ALICE, max_retries=0, timeout=60)
    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    first = llm.chat.completions.create(
        model="adaptive-rag",
        messages=[{"role": "user", "content": "What year did Tesla die?"}],
        extra_headers={"X-Thread-Id": conversation},
    )
    assert "1943" in first.choices[0].message.content
    assert first.model_extra["citations"][0]["source"].endswith("nikola_tesla.md")
    thread_id = first.model_extra["thread_id"]
    uuid.UUID(thread_id)  # a LangGraph thread id, stable for the client's name
    chunks = list(
        llm.chat.completions.create(
            model="adaptive-rag",
            messages=[{"role": "user", "content": "Who did he partner with in 1886?"}],
            extra_headers={"X-Thread-Id": conversation},
            stream=True,
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "Robert Lane" in streamed
    assert chunks[-1].model_extra["thread_id"] == thread_id

    import asyncio

    state = asyncio.run(sdk(url).threads.get_state(thread_id))
    assert len(state["values"]["messages"]) == 4
    assert state["values"]["path"][0]["decision"] == "offline_context"
    with pytest.raises(openai.NotFoundError):
        openai.OpenAI(base_url=url + "/v1", api_key=BOB, max_retries=0).chat.completions.create(
            model="adaptive-rag",
            messages=[{"role": "user", "content": "and then?"}],
            extra_headers={"X-Thread-Id": conversation},
        )
    assert httpx.get(url + "/readyz").json()["status"] == "ready"
    assert "BlockingError" not in log_path.read_text()
