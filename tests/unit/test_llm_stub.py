"""The benchmark's LLM stub, through the real ``ChatOpenAI`` client over HTTP.

It must answer every structured call of the graph with a schema-valid tool call, every plain
call with a cited text, and overlap concurrent calls (the point of the simulated-LLM row).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from langchain_openai import ChatOpenAI

from benchmarks.graph.counting_model import Latency
from benchmarks.serve.llm_stub import running_stub
from nodes.check import AnswerCheck
from nodes.grade import DocumentGrades
from nodes.rewrite import QueryRewrites
from tests.runs import closed_book, run, structured
from tools.llm.closed_book import ClosedBookAnswer

QUESTION = "What year did Tesla die?"
MESSAGES = [("system", "Grade the documents."), ("human", f"<question>{QUESTION}</question>")]


@pytest.fixture(scope="module")
def stub():
    with running_stub(Latency(base_ms=300, per_100_tokens_ms=0)) as running:
        yield running


def _model(stub) -> ChatOpenAI:
    return ChatOpenAI(model="stub", base_url=stub.base_url, api_key="sk-test-not-secret")


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (DocumentGrades, {"relevant": [1]}),
        (AnswerCheck, {"grounded": True, "useful": True, "unsupported": []}),
        (QueryRewrites, {"queries": [QUESTION]}),
        (ClosedBookAnswer, {"confidence": 0.0}),
    ],
)
def test_a_forced_tool_gets_a_schema_valid_call(stub, schema, expected):
    result = structured(_model(stub), schema, MESSAGES, retries=0)
    # Parsed from the provider's tool call as is, not repaired or retried.
    assert (result.ok, result.repaired, result.attempts) == (True, False, 1)
    assert isinstance(result.value, schema)
    assert result.value.model_dump(include=set(expected)) == expected


def test_a_plain_request_gets_a_cited_answer_and_low_logprobs(stub):
    reply = _model(stub).invoke([("system", "Answer from the documents."), ("human", "q")])
    assert "[1]" in reply.text
    closed = closed_book(_model(stub), QUESTION)
    # Not confident: the graph goes on to retrieve.
    assert closed.method == "logprobs"
    assert closed.confidence < 0.2


def test_a_translation_prompt_gets_the_question_back(stub):
    reply = _model(stub).invoke(
        [("system", "Translate the question into English."), ("human", "<question>질문</question>")]
    )
    assert reply.text == "질문"


def test_two_overlapping_calls_each_take_one_latency_not_two(stub):
    model = _model(stub)

    async def both() -> float:
        await model.ainvoke("warm the connection pool")
        started = time.perf_counter()
        await asyncio.gather(model.ainvoke("one"), model.ainvoke("two"))
        return time.perf_counter() - started

    httpx.post(stub.url + "/stats/reset")
    elapsed = run(both())
    assert 0.3 <= elapsed < 0.5  # one 300 ms latency, not 600 ms
    stats = httpx.post(stub.url + "/stats/reset").json()
    assert stats["calls"] == 3
    assert stats["peak_in_flight"] == 2


def test_a_streamed_reply_arrives_token_by_token_after_the_base_latency():
    from benchmarks.serve.llm_stub import Behaviour

    with running_stub(Latency(50, 0), Behaviour(token_ms=20)) as stub:
        model = ChatOpenAI(model="stub", base_url=stub.base_url, api_key="sk-test", max_retries=0)

        async def collect():
            started, times, pieces = time.perf_counter(), [], []
            async for chunk in model.astream([("user", "q")]):
                if chunk.content:
                    times.append(time.perf_counter() - started)
                    pieces.append(chunk.content)
            return times, pieces

        times, pieces = run(collect())
        stats = httpx.get(stub.url + "/stats").json()
    assert "".join(pieces).strip().endswith("[1].") and len(pieces) > 5
    assert times[0] >= 0.05 + 0.02 and times[-1] - times[0] >= 0.02 * (len(pieces) - 2)
    assert len(stats["first_sentence_s"]) == 1  # when the first sentence was complete
