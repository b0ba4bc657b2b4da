"""The answer streams while it is written, and only what verified reaches the chat.

The model is LangChain's real ``ChatOpenAI`` against the benchmark's OpenAI-compatible stub
(``benchmarks.serve.llm_stub``), which streams its answers token by token over HTTP and quotes
the documents it is given; ``--wrong-first-draft`` makes its first draft hold a wrong claim
that its answer check rejects.
"""

from __future__ import annotations

import pytest

from arag.turn import Step, Token, TurnResult, stream_turn
from benchmarks.graph.counting_model import Latency
from benchmarks.serve.llm_stub import WRONG_CLAIM, Behaviour, running_stub
from graph.builder import build_graph
from graph.config import Context
from tests.runs import run

pytestmark = pytest.mark.integration

QUESTION = "When did Nikola Tesla die?"


def _turn(stub, data_dir) -> tuple[list, TurnResult]:
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="stub", base_url=stub.base_url, api_key="sk-test", max_retries=0)
    graph = build_graph(chat_model=model)
    ctx = Context(data_dir=str(data_dir), web_search="none")

    async def collect():
        events = []
        turn = {"messages": [HumanMessage(QUESTION)]}
        async for event in stream_turn(graph, turn, context=ctx):
            events.append(event)
        return events

    events = run(collect())
    return events[:-1], events[-1]


def _stub(**behaviour):
    return running_stub(Latency(0, 0), Behaviour(token_ms=2, quote=True, **behaviour))


def test_the_first_sentence_streams_before_the_answer_check(sample_data_dir):
    with _stub() as stub:
        events, result = _turn(stub, sample_data_dir)
    tokens = [e.text for e in events if isinstance(e, Token)]
    nodes = [e.step["node"] if isinstance(e, Step) else "token" for e in events]
    assert result.route == "retrieval" and result.grounded is True
    assert "".join(tokens) == result.content  # what the chat shows is the final message
    assert "Sources:\n[1]" in result.content
    # The first sentence, cited, was on screen while the check still had to run.
    assert nodes.index("token") < nodes.index("check_answer")
    assert tokens[0].endswith("[1].") and tokens[0] in result.answer


def test_a_rejected_first_draft_never_reaches_the_chat(sample_data_dir):
    with _stub(wrong_first_draft="opening") as stub:
        events, result = _turn(stub, sample_data_dir)
    shown = "".join(e.text for e in events if isinstance(e, Token))
    decisions = [(s["node"], s["decision"]) for s in result.path]
    assert ("check_answer", "not_grounded") in decisions  # the model check rejected draft 1
    assert result.drafts == 2 and result.grounded is True
    assert "1950" not in shown and "1950" not in result.content
    assert shown == result.content and "[1]" in shown


def test_a_draft_rejected_after_its_first_sentence_keeps_only_that_sentence(sample_data_dir):
    with _stub(wrong_first_draft="middle") as stub:
        events, result = _turn(stub, sample_data_dir)
    shown = "".join(e.text for e in events if isinstance(e, Token))
    assert result.drafts == 1  # no second draft may replace text already on screen
    assert "1950" not in shown and WRONG_CLAIM not in result.content
    assert shown == result.content
    assert {"not_grounded", "unverified_rest_dropped"} <= set(result.flags)
    assert "only the sentences verified against their sources are shown" in result.content
    assert "could not be fully verified" not in result.content  # one note, not two
    assert result.answer.count("[1]") == 1  # the one verified sentence


def test_under_a_messages_stream_only_the_answer_is_requested_as_a_stream(
    sample_data_dir, monkeypatch
):
    """Structured calls are read whole (their provider errors come as one response)."""
    from langchain_core.messages import HumanMessage

    from tests.fakes.openai_server import FakeOpenAIServer, Reply
    from tools.llm.chat_models import load_chat_model

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer() as llm:
        llm.script(
            Reply.tool_call({"relevant": [1], "reason": "about Tesla"}, name="DocumentGrades"),
            Reply.say("Tesla died on 7 January 1943 [1]. That is all [1]."),
            Reply.tool_call({"grounded": True, "useful": True}, name="AnswerCheck"),
        )
        model = load_chat_model("openai:fake-model", base_url=llm.base_url)
        graph = build_graph(chat_model=model)
        ctx = Context(data_dir=str(sample_data_dir), web_search="none")

        async def collect():
            turn = {"messages": [HumanMessage(QUESTION)]}
            return [e async for e in stream_turn(graph, turn, context=ctx)]

        events = run(collect())
        bodies = llm.chat_requests()
    streamed = {bool(b.get("tools")): bool(b.get("stream")) for b in bodies}
    assert streamed == {True: False, False: True}  # tool calls whole, the answer streamed
    assert events[-1].grounded is True and "1943" in events[-1].content
