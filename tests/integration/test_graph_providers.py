"""The whole graph over the real ChatOpenAI / ChatGroq clients and the local wire stand-in.

Counts HTTP requests, which is what a user pays for: the confident closed-book path is one
request with OpenAI logprobs; the happy retrieval path is three.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from graph.builder import build_graph
from graph.config import Context
from tests.fakes.openai_server import Reply
from tests.runs import invoke
from tools.llm.chat_models import load_chat_model

Q = "What is the capital of France?"


pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_provider_env")]


def run(model, index, embeddings, question, **settings):
    graph = build_graph(chat_model=model, index=index, embeddings=embeddings)
    return invoke(graph, {"messages": [HumanMessage(question)]}, context=Context(**settings))


def test_openai_confident_closed_book_is_one_request_with_logprobs(
    server, static_index, embeddings
):
    server.script(Reply.say("Water boils at 100 degrees Celsius.", logprob=-0.01))
    model = load_chat_model("openai:fake-model", base_url=server.base_url, timeout=5)
    result = run(model, static_index, embeddings, "At what temperature does water boil?")
    assert len(server.chat_requests()) == 1
    assert server.chat_requests()[0]["logprobs"] is True
    assert result["route"] == "closed_book"
    step = next(s for s in result["path"] if s["node"] == "check_confidence")
    assert "(logprobs)" in step["reason"] and step["decision"] == "closed_book"


def test_openai_low_logprob_confidence_retrieves(server, static_index, embeddings):
    server.script(
        Reply.say("Maybe Lyon.", logprob=-1.5),  # exp(-1.5) ≈ 0.22 < confidence_low
        Reply.tool_call({"relevant": [], "reason": "off topic"}),
        Reply.tool_call({"queries": ["banana nutrition"]}),
        Reply.tool_call({"relevant": [], "reason": "off topic"}),
        Reply.tool_call({"queries": ["banana facts"]}),
        Reply.tool_call({"relevant": [], "reason": "off topic"}),
    )
    model = load_chat_model("openai:fake-model", base_url=server.base_url, timeout=5)
    result = run(model, static_index, embeddings, "Which fruit has the most potassium?")
    assert result["route"] == "insufficient"
    confidence = next(s for s in result["path"] if s["node"] == "check_confidence")
    assert confidence["decision"] == "retrieve"
    assert len(server.chat_requests()) == 6


def test_openai_happy_path_is_three_requests_and_cites(server, static_index, embeddings):
    server.script(
        Reply.tool_call({"relevant": [1], "reason": "names the capital"}),
        Reply.say("Paris is the capital of France [1]."),
        Reply.tool_call({"grounded": True, "useful": True, "unsupported": [], "reason": "ok"}),
    )
    model = load_chat_model("openai:fake-model", base_url=server.base_url, timeout=5)
    result = run(model, static_index, embeddings, Q)
    assert len(server.chat_requests()) == 3
    assert result["citations"][0]["id"] == "france#0"
    assert result["mode"] == "llm" and result["flags"] == []


def test_groq_verbalized_confidence_and_failed_generation_repair(
    server, static_index, embeddings, monkeypatch
):
    monkeypatch.setenv("GROQ_API_KEY", "gsk-test-key")
    server.script(
        Reply.tool_use_failed('{"answer": "Mount Everest", "confidence": 0.95}'),
    )
    model = load_chat_model(
        "groq:llama-3.3-70b-versatile", base_url=server.groq_base_url, timeout=5
    )
    # A model calibrated to trust its stated confidence (the default trusts none: README).
    result = run(
        model,
        static_index,
        embeddings,
        "What is the highest mountain on Earth?",
        verbalized_confidence_high=0.9,
    )
    sent = server.chat_requests()[0]
    assert "logprobs" not in sent and sent["tools"][0]["function"]["name"] == "ClosedBookAnswer"
    assert result["route"] == "closed_book" and result["answer"] == "Mount Everest"
    confidence = next(s for s in result["path"] if s["node"] == "check_confidence")
    assert "(verbalized)" in confidence["reason"]


def test_rate_limit_then_success_is_transparent(server, static_index, embeddings):
    server.script(
        Reply.rate_limited(retry_after=1),
        Reply.tool_call({"relevant": [1], "reason": "yes"}),
        Reply.say("Paris [1]."),
        Reply.tool_call({"grounded": True, "useful": True, "unsupported": [], "reason": "ok"}),
    )
    model = load_chat_model("openai:fake-model", base_url=server.base_url, timeout=5)
    result = run(model, static_index, embeddings, Q)
    assert result["route"] == "retrieval" and result["flags"] == []
    assert len(server.chat_requests()) == 4


def test_server_errors_degrade_to_visible_fallbacks(server, static_index, embeddings):
    server.script(*[Reply.server_error(503)] * 12)
    model = load_chat_model("openai:fake-model", base_url=server.base_url, timeout=5, max_retries=0)
    result = run(model, static_index, embeddings, Q)
    assert "llm_error" in result["flags"]
    assert result["route"] == "retrieval"
    assert "Paris is the capital" in result["answer"]  # extractive fallback, still cited
    assert result["citations"][0]["id"] == "france#0"
