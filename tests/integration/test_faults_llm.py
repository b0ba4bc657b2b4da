"""LLM provider faults through the real ChatOpenAI / ChatGroq clients and the local stand-in.

Every test builds the model the way a deployment does (``Context.model``, ``base_url``,
``max_retries``, ``fallback_model``, ``request_deadline``), injects one fault at the wire, and
checks what a user would notice: the route, the flags, the notes under the answer, how many
requests the provider saw and how long the question took. Each fault is recorded in the ledger.
"""

from __future__ import annotations

import time

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage

from graph.builder import build_graph
from graph.config import Context
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.runs import invoke, stream

Q = "What is the capital of France?"
GROQ = "groq:llama-3.3-70b-versatile"
OPENAI = "openai:fake-model"
# The happy retrieval path over the static index: grade, answer, check (three requests).
HAPPY = (
    Reply.tool_call({"relevant": [1], "reason": "names the capital"}),
    Reply.say("Paris is the capital of France [1]."),
    Reply.tool_call({"grounded": True, "useful": True, "unsupported": [], "reason": "ok"}),
)
# Scheduling noise on a shared 2-core machine, on top of the deadline.
SLACK = 1.5

pytestmark = [
    pytest.mark.integration,
    pytest.mark.reliability,
    pytest.mark.usefixtures("clean_provider_env"),
]


@pytest.fixture
def fallback_server():
    """A second stand-in: the fallback provider."""
    with FakeOpenAIServer() as srv:
        yield srv


def settings(server, flavour: str, **overrides) -> Context:
    """Context for the primary model on ``server`` (``flavour`` openai or groq)."""
    spec, url = (OPENAI, server.base_url) if flavour == "openai" else (GROQ, server.groq_base_url)
    base = {"model": spec, "base_url": url, "request_timeout": 5.0, "max_retries": 2}
    return Context(**(base | overrides))


def ask(ctx: Context, index, embeddings, question: str = Q) -> tuple[dict, float]:
    graph = build_graph(index=index, embeddings=embeddings)
    start = time.monotonic()
    result = invoke(graph, {"messages": [HumanMessage(question)]}, context=ctx)
    return result, time.monotonic() - start


def notes(result: dict) -> str:
    return result["messages"][-1].content


@pytest.fixture(autouse=True)
def groq_key(clean_provider_env, monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "gsk-test-key")


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_429_with_retry_after_is_waited_out_and_retried(
    flavour, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "429 with Retry-After (retried)"):
        server.script(Reply.rate_limited(retry_after=1), *HAPPY)
        result, took = ask(settings(server, flavour), static_index, embeddings)
        assert took >= 0.95, "the SDK must honour Retry-After before retrying"
        assert len(server.chat_requests()) == 4  # one 429 + the three-step happy path
        assert result["route"] == "retrieval" and result["flags"] == []
        assert result["citations"][0]["id"] == "france#0"


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_retry_after_beyond_the_deadline_is_not_slept(
    flavour, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "429 with Retry-After past the deadline"):
        server.script(*[Reply.rate_limited(retry_after=30)] * 3)
        ctx = settings(server, flavour, request_deadline=4.0)
        result, took = ask(ctx, static_index, embeddings)
        assert took < 4.0 + SLACK
        assert len(server.chat_requests()) == 3  # grade, answer, check: each tried once
        assert "llm_error" in result["flags"] and result["route"] == "retrieval"
        assert "Paris is the capital" in result["answer"]  # extractive, still cited
        assert "language model failed (rate limited (HTTP 429" in notes(result)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_exhaust_retries_then_the_fallback_model_answers(
    status, server, fallback_server, static_index, embeddings, fault_ledger
):
    # Groq down, OpenAI up: the configured fallback answers and the user sees a normal answer.
    with fault_ledger.fault("llm", f"{status} then fallback model"):
        server.script(*[Reply.server_error(status)] * 9)
        fallback_server.script(*HAPPY)
        ctx = settings(
            server,
            "groq",
            max_retries=1,
            fallback_model=OPENAI,
            fallback_base_url=fallback_server.base_url,
        )
        result, took = ask(ctx, static_index, embeddings)
        assert len(server.chat_requests()) == 6  # 3 steps x (1 try + 1 retry)
        assert len(fallback_server.chat_requests()) == 3
        assert result["route"] == "retrieval" and result["flags"] == []
        assert result["answer"] == "Paris is the capital of France [1]."
        assert took < 15  # three backoffs of <= 0.5 s each, plus the work


@pytest.mark.parametrize("flavour", ["openai", "groq"])
@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_without_fallback_say_so_in_the_answer(
    flavour, status, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", f"{status} with no fallback"):
        server.script(*[Reply.server_error(status)] * 6)
        result, _ = ask(settings(server, flavour, max_retries=1), static_index, embeddings)
        assert len(server.chat_requests()) == 6
        assert "llm_error" in result["flags"] and "grading_fallback" in result["flags"]
        assert result["route"] == "retrieval" and result["mode"] == "llm"
        assert result["citations"][0]["id"] == "france#0"
        assert f"language model failed (provider error (HTTP {status}" in notes(result)


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_read_timeout_falls_back_within_the_request_timeout(
    flavour, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "read timeout", times=3):
        server.script(*[Reply.slow(3.0)] * 3)
        ctx = settings(server, flavour, request_timeout=0.4, max_retries=0)
        result, took = ask(ctx, static_index, embeddings)
        assert took < 3 * 0.4 + SLACK
        assert "llm_error" in result["flags"] and "deadline_exceeded" not in result["flags"]
        assert "language model failed (timed out" in notes(result)
        assert "Paris is the capital" in result["answer"]


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_connection_reset_is_retried_transparently(
    flavour, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "connection reset (retried)"):
        server.script(Reply.reset(), *HAPPY)
        result, _ = ask(settings(server, flavour), static_index, embeddings)
        assert len(server.chat_requests()) == 4
        assert result["flags"] == [] and result["answer"] == "Paris is the capital of France [1]."


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_connection_reset_every_time_falls_back_to_the_fallback_model(
    flavour, server, fallback_server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "connection reset then fallback model", times=3):
        server.script(*[Reply.reset()] * 3)
        fallback_server.script(*HAPPY)
        ctx = settings(
            server,
            flavour,
            max_retries=0,
            fallback_model=OPENAI,
            fallback_base_url=fallback_server.base_url,
        )
        result, _ = ask(ctx, static_index, embeddings)
        assert len(fallback_server.chat_requests()) == 3
        assert result["flags"] == [] and result["answer"] == "Paris is the capital of France [1]."


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_malformed_200_body_is_a_provider_error(
    flavour, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "malformed 200 body", times=3):
        server.script(*[Reply.malformed_body()] * 3)
        result, _ = ask(settings(server, flavour, max_retries=0), static_index, embeddings)
        assert "llm_error" in result["flags"]
        assert "Paris is the capital" in result["answer"]
        assert "language model failed" in notes(result)


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_truncated_stream_while_streaming_tokens_falls_back(
    flavour, server, static_index, embeddings, fault_ledger
):
    # stream_mode="messages" is what `arag ask` uses: the answer step then streams its tokens.
    with fault_ledger.fault("llm", "truncated stream"):
        server.script(
            HAPPY[0],
            Reply.truncated_stream("Paris is the capital of France [1] and also"),
            HAPPY[2],
        )
        graph = build_graph(index=static_index, embeddings=embeddings)
        tokens, final = [], {}
        for mode, chunk in stream(
            graph,
            {"messages": [HumanMessage(Q)]},
            context=settings(server, flavour, max_retries=0),
            stream_mode=["messages", "values"],
        ):
            if mode == "messages" and isinstance(chunk[0], AIMessageChunk):
                tokens.append(chunk[0].content)
            elif mode == "values":
                final = chunk
        assert server.chat_requests()[1]["stream"] is True
        assert "and also" not in "".join(tokens)  # the stream really was cut
        assert "llm_error" in final["flags"]
        assert final["answer"].startswith("Paris is the capital")  # extractive, complete
        assert "language model failed" in final["messages"][-1].content


def test_groq_failed_generation_that_cannot_be_repaired_is_a_visible_default(
    server, fallback_server, static_index, embeddings, fault_ledger
):
    # A 400 tool_use_failed is malformed output, not an outage: repaired or retried, never
    # sent to the fallback model; after the bounded retries the grader's default is flagged.
    with fault_ledger.fault("llm", "Groq 400 tool_use_failed (unrepairable)", times=3):
        server.script(
            *[Reply.tool_use_failed("<function=DocumentGrades>I think doc 1</function>")] * 3,
            HAPPY[1],
            HAPPY[2],
        )
        ctx = settings(
            server, "groq", fallback_model=OPENAI, fallback_base_url=fallback_server.base_url
        )
        result, _ = ask(ctx, static_index, embeddings)
        assert fallback_server.chat_requests() == []
        assert result["flags"] == ["grading_fallback"]
        assert result["answer"] == "Paris is the capital of France [1]."
        assert "structured output was unusable" in notes(result)


def test_groq_failed_generation_is_repaired_without_another_request(
    server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "Groq 400 tool_use_failed (repairable)"):
        server.script(
            Reply.tool_use_failed('{"relevant": [1], "reason": "capital"}'), HAPPY[1], HAPPY[2]
        )
        result, _ = ask(settings(server, "groq"), static_index, embeddings)
        assert len(server.chat_requests()) == 3
        assert result["flags"] == [] and result["citations"][0]["id"] == "france#0"


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_deadline_stops_llm_calls_and_the_answer_says_so(
    flavour, server, static_index, embeddings, fault_ledger
):
    # Each reply takes 1.5 s; with a 2 s deadline the grader answers, the writer is cut off at
    # the deadline and the checker is never called.
    with fault_ledger.fault("llm", "slow provider past the request deadline"):
        server.script(*[Reply.slow(1.5, then=r) for r in HAPPY])
        ctx = settings(server, flavour, request_deadline=2.0)
        result, took = ask(ctx, static_index, embeddings)
        assert took < 2.0 + SLACK
        assert len(server.chat_requests()) == 2
        assert {"deadline_exceeded", "llm_error"} <= set(result["flags"])
        assert result["answer"].startswith("Paris is the capital")
        assert "request deadline (2 s) was reached" in notes(result)
        check = next(s for s in result["path"] if s["node"] == "check_answer")
        assert "request deadline reached" in check["reason"]


def test_retries_stop_at_the_deadline(server, static_index, embeddings, fault_ledger):
    # 503s with a 1 s Retry-After and 5 retries allowed: without the deadline one step alone
    # would take 5 s; with a 2.5 s deadline the whole question stays under it.
    with fault_ledger.fault("llm", "503 retries cut at the deadline"):
        server.script(*[Reply(fault="status", status=503, retry_after=1)] * 20)
        ctx = settings(server, "openai", max_retries=5, request_deadline=2.5)
        result, took = ask(ctx, static_index, embeddings)
        assert took < 2.5 + SLACK
        # The grader retries while a 1 s wait still fits (3 requests); later steps try once.
        assert 3 <= len(server.chat_requests()) <= 6
        assert "llm_error" in result["flags"]
        assert "Paris is the capital" in result["answer"]


# --- malformed structured output ---------------------------------------------------------------

GRADER_MALFORMED = {
    "invalid JSON": Reply.raw_tool_call('{"relevant": [1, "reason": '),
    "missing fields": Reply.tool_call({"reason": "looks relevant"}),
    "wrong types": Reply.tool_call({"relevant": "the first one", "reason": ["yes"]}),
    "prose only, no JSON": Reply.say("Document 1 is relevant because it names the capital."),
}


@pytest.mark.parametrize("flavour", ["openai", "groq"])
@pytest.mark.parametrize("kind", sorted(GRADER_MALFORMED))
def test_unusable_grader_output_is_retried_then_a_flagged_default(
    kind, flavour, server, static_index, embeddings, fault_ledger
):
    # Three attempts (one call + two corrective retries), then the calibrated-score default.
    with fault_ledger.fault("structured", f"grader: {kind}", times=3):
        server.script(*[GRADER_MALFORMED[kind]] * 3, HAPPY[1], HAPPY[2])
        result, _ = ask(settings(server, flavour), static_index, embeddings)
        assert len(server.chat_requests()) == 5
        corrective = server.chat_requests()[1]["messages"][-1]["content"]
        assert "DocumentGrades" in corrective  # the retry says what was wrong
        assert result["flags"] == ["grading_fallback"] and result["route"] == "retrieval"
        grade = next(s for s in result["path"] if s["node"] == "grade_documents")
        assert "unusable grader output" in grade["reason"]
        assert result["citations"][0]["id"] == "france#0"
        assert "structured output was unusable" in notes(result)


@pytest.mark.parametrize(
    "reply",
    [
        Reply.say('Sure! Here it is: {"relevant": [1], "reason": "capital"} Hope this helps.'),
        Reply.say('```json\n{"relevant": [1], "reason": "capital"}\n```'),
        Reply.raw_tool_call("{'relevant': ['1'], 'reason': 'capital',}"),
        Reply.raw_tool_call('{"DocumentGrades": {"relevant": [1], "reason": "capital"}}'),
    ],
    ids=["prose-around-json", "fenced-json", "python-literal-strings", "nested-under-name"],
)
def test_repairable_grader_output_is_repaired_without_a_retry(
    reply, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("structured", "grader: repairable malformation"):
        server.script(reply, HAPPY[1], HAPPY[2])
        result, _ = ask(settings(server, "openai"), static_index, embeddings)
        assert len(server.chat_requests()) == 3
        assert result["flags"] == [] and result["citations"][0]["id"] == "france#0"


def test_unusable_checker_output_falls_back_to_the_sentence_check(
    server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("structured", "checker: wrong types", times=3):
        bad = Reply.tool_call({"grounded": "maybe", "useful": {"x": 1}})
        server.script(HAPPY[0], HAPPY[1], bad, bad, bad)
        result, _ = ask(settings(server, "openai"), static_index, embeddings)
        assert result["flags"] == ["check_fallback"]
        check = next(s for s in result["path"] if s["node"] == "check_answer")
        assert check["decision"] == "ok" and "unusable checker output" in check["reason"]
        assert result["answer"] == "Paris is the capital of France [1]."


def test_unusable_rewrite_output_falls_back_to_feedback_queries(
    server, static_index, embeddings, fault_ledger
):
    # Nothing relevant for this question: the rewriter runs, and its output is garbage.
    with fault_ledger.fault("structured", "rewriter: missing fields", times=3):
        none = Reply.tool_call({"relevant": [], "reason": "off topic"})
        bad = Reply.tool_call({"variants": "banana"})
        server.script(
            Reply.say("Maybe.", logprob=-2.0), none, bad, bad, bad, none, bad, bad, bad, none
        )
        ctx = settings(server, "openai", max_rewrites=2)
        result, _ = ask(ctx, static_index, embeddings, "Which fruit has the most potassium?")
        assert "rewrite_fallback" in result["flags"] and result["route"] == "insufficient"
        rewrites = [s for s in result["path"] if s["node"] == "rewrite_query"]
        assert len(rewrites) == 2
        assert all("pseudo-relevance feedback" in s["reason"] for s in rewrites)
