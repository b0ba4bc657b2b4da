"""A real ``langgraph dev`` server driven through ``langgraph_sdk``, with streaming."""

from __future__ import annotations

import uuid
from typing import Annotated

import httpx
import openai
import pytest
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

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


# The protocol as clients use it, on the LangGraph host -------------------------------------


class Parent(TypedDict, total=False):
    """A parent graph's state around the RemoteGraph node."""

    messages: Annotated[list, add_messages]
    answer: str


async def test_updates_stream_carries_plain_lists_and_each_turn_starts_afresh(dev_server):
    url, _ = dev_server
    client = sdk(url)
    thread = await client.threads.create()
    for question in ("What year did Tesla die?", "Who did he partner with in 1886?"):
        updates = [
            part.data
            async for part in client.runs.stream(
                thread["thread_id"],
                "adaptive_rag",
                input={"messages": [{"role": "user", "content": question}]},
                stream_mode="updates",
            )
            if part.event == "updates"
        ]
        written = [
            (node, key, value)
            for data in updates
            for node, update in data.items()
            for key, value in (update or {}).items()
            if key in ("path", "flags", "failures")
        ]
        assert written
        for node, key, value in written:
            # A plain JSON list, never {"type": "__overwrite__", "value": [...]}.
            assert isinstance(value, list), (node, key, value)
        condensed = next(v for n, k, v in written if n == "condense_question" and k == "path")
        assert condensed[-1]["node"] == "condense_question"
        state = (await client.threads.get_state(thread["thread_id"]))["values"]
        # The turn's path starts at its own condense step: the earlier turn's was dropped.
        assert [s["node"] for s in state["path"]].count("condense_question") == 1
        assert state["path"][0]["node"] == "condense_question"
    assert state["path"][0]["decision"] == "offline_context"


def test_v1_errors_are_openai_format_and_langgraph_routes_keep_theirs(dev_server):
    url, _ = dev_server
    auth = {"Authorization": f"Bearer {ALICE}"}
    unknown = httpx.get(url + "/v1/nope", headers=auth)
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "message": "No route GET /v1/nope.",
        "type": "not_found_error",
        "param": None,
        "code": "unknown_route",
    }
    wrong = httpx.get(url + "/v1/chat/completions", headers=auth)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    # LangGraph's own routes and errors are untouched by the mounted app.
    missing = httpx.get(f"{url}/threads/{uuid.uuid4()}", headers=auth)
    assert missing.status_code == 404 and "detail" in missing.json()
    assert httpx.get(url + "/ok").status_code == 200
    assert httpx.post(url + "/threads/search", headers=auth, json={}).status_code == 200
    assert "/threads/{thread_id}" in httpx.get(url + "/openapi.json").json()["paths"]


def test_v1_on_langgraph_takes_any_thread_id_usage_and_the_responses_api(dev_server):
    url, _ = dev_server
    llm = openai.OpenAI(base_url=url + "/v1", api_key=ALICE, max_retries=0, timeout=60)
    name = f"Zürich chat {uuid.uuid4().hex[:6]} / ünïcode"
    for question in ("What year did Tesla die?", "Who did he partner with in 1886?"):
        reply = llm.chat.completions.create(
            model="adaptive-rag",
            messages=[{"role": "user", "content": question}],
            metadata={"thread_id": name},
            stream_options={"include_usage": True},
        )
    assert "Robert Lane" in reply.choices[0].message.content
    assert reply.usage.total_tokens == 0  # offline
    with pytest.raises(openai.BadRequestError, match="control characters"):
        llm.chat.completions.create(
            model="adaptive-rag",
            messages=[{"role": "user", "content": "hi"}],
            metadata={"thread_id": "bad\x07id"},
        )
    first = llm.responses.create(model="adaptive-rag", input="What year did Tesla die?")
    assert "1943" in first.output_text
    second = llm.responses.create(
        model="adaptive-rag",
        input="Who did he partner with in 1886?",
        previous_response_id=first.id,
    )
    assert "Robert Lane" in second.output_text
    streamed = list(
        llm.responses.create(model="adaptive-rag", input="What year did Tesla die?", stream=True)
    )
    assert streamed[-1].type == "response.completed" and "1943" in streamed[-1].response.output_text


async def test_remote_graph_under_a_parent_with_a_non_uuid_thread_id(dev_server):
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.pregel.remote import RemoteGraph

    from arag.server.thread_ids import langgraph_thread_id

    url, _ = dev_server
    remote = RemoteGraph("adaptive_rag", url=url, api_key=ALICE)
    parent = (
        StateGraph(Parent)
        .add_node("rag", remote)
        .add_edge(START, "rag")
        .compile(checkpointer=InMemorySaver())
    )
    name = f"parent thread {uuid.uuid4().hex[:6]}"
    config = {"configurable": {"thread_id": name}}
    first = await parent.ainvoke(
        {"messages": [{"role": "user", "content": "What year did Tesla die?"}]}, config
    )
    assert "1943" in first["answer"]
    second = await parent.ainvoke(
        {"messages": [{"role": "user", "content": "Who did he partner with in 1886?"}]}, config
    )
    assert "Robert Lane" in second["answer"]
    # The remote thread is the name's stable UUID, the same one /v1 would use for it.
    remote_state = await sdk(url).threads.get_state(langgraph_thread_id(name))
    assert remote_state["values"]["path"][0]["decision"] == "offline_context"
    bad = httpx.get(f"{url}/threads/bad%0Aid", headers={"Authorization": f"Bearer {ALICE}"})
    assert bad.status_code == 400 and "control characters" in bad.json()["detail"]
