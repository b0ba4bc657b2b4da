"""LangSmith tracing: what a trace reader sees, captured on the real client's wire path.

A real ``langsmith.Client`` sends its multipart ingest batches to a local stand-in; the tests
read back node runs' names, tags and metadata, and check that an unreachable LangSmith neither
fails nor stalls a request.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tracers.langchain import LangChainTracer
from langsmith import Client, run_trees
from langsmith import utils as ls_utils

from graph.builder import build_graph
from graph.config import Context
from graph.tracing import node_annotations
from tests.fakes.langsmith_server import FakeLangSmithServer
from tests.fakes.node_chat_model import NodeScriptedChatModel
from tests.runs import invoke
from tools.web_search import WebResult

Q = "What is the capital of France?"
GOOD = {"grounded": True, "useful": True, "unsupported": [], "reason": "ok"}


class StubWeb:
    name = "stub"
    available = True
    unavailable_reason = None

    def search(self, query: str, max_results: int = 5) -> list[WebResult]:
        return [WebResult("Bananas", "https://example.org/bananas", "Bananas are berries.")]

    async def asearch(self, query: str, max_results: int = 5) -> list[WebResult]:
        return self.search(query, max_results)


@pytest.fixture
def langsmith():
    with FakeLangSmithServer() as server:
        yield server


def traced_run(server, graph, question, *, thread_id, context=None):
    client = Client(api_url=server.url, api_key="lsv2-test-key")
    tracer = LangChainTracer(client=client, project_name="arag-tests")
    config = {"callbacks": [tracer], "configurable": {"thread_id": thread_id}}
    result = invoke(
        graph, {"messages": [HumanMessage(question)]}, config, context=context or Context()
    )
    tracer.wait_for_futures()
    client.flush()
    return result, server.runs()


def by_name(runs: dict, name: str) -> list[dict]:
    return [r for r in runs.values() if r.get("name") == name]


def test_node_runs_carry_route_provider_thread_language_and_confidence(
    langsmith, static_index, embeddings
):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1], "reason": "names the capital"}],
            "generate_answer": ["Paris is the capital of France [1]."],
            "check_answer": [GOOD],
        }
    )
    graph = build_graph(chat_model=model, index=static_index, embeddings=embeddings)
    result, runs = traced_run(langsmith, graph, Q, thread_id="thread-42")
    assert result["route"] == "retrieval"
    assert any(p.startswith("/runs/multipart") for p in langsmith.paths)

    (confidence,) = by_name(runs, "check_confidence")
    meta = confidence["extra"]["metadata"]
    assert meta["thread_id"] == "thread-42"
    assert meta["language"] == "en"
    assert meta["confidence"]["decision"] == "retrieve"
    assert meta["confidence"]["probe_score"] == pytest.approx(0.9)
    assert "provider:nodescriptedchatmodel" in confidence["tags"]

    (respond,) = by_name(runs, "respond")
    assert "route:retrieval" in respond["tags"]
    assert respond["extra"]["metadata"]["decision"] == "retrieval"

    # The LLM call inside a node is a child run with its own clear name and the node's tag.
    (grade_llm,) = by_name(runs, "grade_documents.llm")
    (grade,) = by_name(runs, "grade_documents")
    assert grade_llm["parent_run_id"] == grade["id"]
    assert "arag:grade_documents" in grade_llm["tags"]

    # The root run is filterable by route for the whole trace.
    (root,) = by_name(runs, "adaptive_rag")
    assert "route:retrieval" in root["tags"]
    assert root["extra"]["metadata"]["route"] == "retrieval"
    assert root["extra"]["metadata"]["thread_id"] == "thread-42"


def test_offline_web_route_is_tagged_offline_and_web(langsmith, embeddings):
    from tests.fakes.static_index import StaticIndex

    index = StaticIndex(default=[("noise#0", "Bananas are rich in potassium.", 0.1)])
    graph = build_graph(
        chat_model=None, index=index, embeddings=embeddings, web_search_backend=StubWeb()
    )
    result, runs = traced_run(langsmith, graph, "Are bananas berries?", thread_id="t-offline")
    assert result["route"] == "web"
    (web,) = by_name(runs, "web_search")
    assert {"provider:offline", "route:web"} <= set(web["tags"])
    assert web["extra"]["metadata"]["decision"] == "1 results"
    (root,) = by_name(runs, "adaptive_rag")
    assert "route:web" in root["tags"]


def test_annotations_from_state_alone():
    tags, meta = node_annotations(
        "check_confidence",
        {"user_language": "ko", "route": None},
        {
            "confidence": {"decision": "web", "model_confidence": 0.2, "probe_score": 0.1},
            "path": {"node": "check_confidence", "decision": "web", "reason": "..."},
        },
        "groq",
        "abc",
    )
    assert tags == ["provider:groq"]
    assert meta["language"] == "ko" and meta["thread_id"] == "abc"
    assert meta["confidence"]["decision"] == "web" and meta["decision"] == "web"


def _blackhole() -> socket.socket:
    """A listening socket that never accepts: connections hang instead of being refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    return sock


@pytest.fixture
def fresh_langsmith_env():
    """langsmith caches environment reads and one env-configured client per process.

    Request this fixture before ``monkeypatch`` so its teardown runs after the environment is
    restored, and no later test sees tracing switched on.
    """
    run_trees._CLIENT = None
    ls_utils.get_env_var.cache_clear()
    ls_utils.get_tracer_project.cache_clear()
    # The client's background thread logs every failed upload ("Failed to multipart ingest
    # runs ...", with the whole payload) until the process exits; the failures are the point of
    # these tests, so langsmith's own logger stays quiet for the rest of the session.
    logging.getLogger("langsmith").setLevel(logging.CRITICAL)
    yield
    run_trees._CLIENT = None
    ls_utils.get_env_var.cache_clear()
    ls_utils.get_tracer_project.cache_clear()


@pytest.mark.parametrize("endpoint", ["closed", "blackhole"])
def test_unreachable_langsmith_neither_fails_nor_stalls_requests(
    fresh_langsmith_env, endpoint, monkeypatch, static_index, embeddings
):
    hole = _blackhole() if endpoint == "blackhole" else None
    port = hole.getsockname()[1] if hole else 9  # port 9 (discard) is closed here
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("LANGSMITH_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2-test-key")
    monkeypatch.setenv("LANGSMITH_PROJECT", f"arag-unreachable-{uuid.uuid4().hex[:6]}")
    graph = build_graph(chat_model=None, index=static_index, embeddings=embeddings)
    try:
        invoke(graph, {"messages": [HumanMessage(Q)]}, context=Context())  # warm-up
        started = time.perf_counter()
        for _ in range(3):
            result = invoke(graph, {"messages": [HumanMessage(Q)]}, context=Context())
        per_request = (time.perf_counter() - started) / 3
    finally:
        client = run_trees._CLIENT
        assert client is not None and client.api_url.endswith(f":{port}")
        client.close(timeout=0)  # drop the undeliverable traces instead of retrying at exit
        if hole:
            hole.close()
    assert result["route"] == "retrieval" and result["citations"]
    # An offline request takes ~50 ms here; a synchronous LangSmith call would add its
    # connect timeout (seconds). The bound is loose so a busy CI machine does not flake.
    assert per_request < 1.0
