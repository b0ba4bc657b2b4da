"""Whole-document questions take the summarize route, offline and with a model over HTTP."""

from __future__ import annotations

import pytest

from arag.turn import run_turn
from benchmarks.graph.counting_model import Latency
from benchmarks.serve.llm_stub import running_stub
from graph.builder import build_graph
from graph.config import Context
from tests.runs import run

pytestmark = pytest.mark.integration


def _ask(question, data_dir, chat_model=None, **settings):
    graph = build_graph(chat_model=chat_model)
    ctx = Context(data_dir=str(data_dir), web_search="none", **settings)
    return run(run_turn(graph, {"messages": [("user", question)]}, context=ctx))


def test_offline_a_summary_request_gets_an_extractive_summary_that_says_so(sample_data_dir):
    result = _ask("Summarize the Tesla document", sample_data_dir)
    nodes = [(s["node"], s["decision"]) for s in result.path]
    assert ("summarize_documents", "extractive") in nodes
    assert "retrieve_documents" not in [n for n, _ in nodes]
    assert result.route == "summary"
    assert [c["source"] for c in result.citations] == ["nikola_tesla.md"]
    assert "this is an extractive summary" in result.content
    assert result.answer.count("[1]") >= 2  # several sentences, each cited


def test_a_summary_of_several_documents_cites_each_of_them(sample_data_dir):
    result = _ask("Give me an overview of these documents", sample_data_dir)
    assert result.route == "summary" and len(result.citations) >= 2


def _model(stub):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="stub", base_url=stub.base_url, api_key="sk-test", max_retries=0)


def test_with_a_model_a_small_document_is_summarized_in_one_call(sample_data_dir):
    with running_stub(Latency(0, 0)) as stub:
        result = _ask("Summarize the Tesla document", sample_data_dir, _model(stub))
        calls = stub.stats.by_kind["answer"]
    step = next(s for s in result.path if s["node"] == "summarize_documents")
    assert step["decision"] == "stuff" and step["reason"].startswith("1 model call(s)")
    assert calls == 1
    assert result.route == "summary" and result.citations


def test_with_a_model_a_long_request_is_map_reduced_within_the_call_budget(sample_data_dir):
    with running_stub(Latency(0, 0)) as stub:
        result = _ask(
            "Give me an overview of these documents",
            sample_data_dir,
            _model(stub),
            summary_stuff_chars=800,
            summary_max_calls=3,
        )
        calls = stub.stats.by_kind["answer"]
    step = next(s for s in result.path if s["node"] == "summarize_documents")
    assert step["decision"] == "map-reduce"
    assert calls == 3 and step["reason"].startswith("3 model call(s)")  # 2 maps + 1 reduce
