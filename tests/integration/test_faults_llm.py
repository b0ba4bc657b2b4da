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
    with fault_ledger.fault("llm", "429 with Retry-After (retried)") as observed:
        server.script(Reply.rate_limited(retry_after=1), *HAPPY)
        result, took = ask(settings(server, flavour), static_index, embeddings)
        observed.observe(
            "the SDK must honour Retry-After before retrying", bool(took >= 0.95), expected=True
        )
        observed.observe(
            "len(server.chat_requests()) == 4", len(server.chat_requests()), expected=4
        )  # one 429 + the three-step happy path
        observed.observe(
            'result["route"] == "retrieval" and result["flags"] == []',
            bool(result["route"] == "retrieval" and result["flags"] == []),
            expected=True,
        )
        observed.observe(
            'result["citations"][0]["id"] == "france#0"',
            result["citations"][0]["id"],
            expected="france#0",
        )


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_retry_after_beyond_the_deadline_is_not_slept(
    flavour, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "429 with Retry-After past the deadline") as observed:
        server.script(*[Reply.rate_limited(retry_after=30)] * 3)
        ctx = settings(server, flavour, request_deadline=4.0)
        result, took = ask(ctx, static_index, embeddings)
        observed.observe("took < 4.0 + SLACK", bool(took < 4.0 + SLACK), expected=True)
        observed.observe(
            "len(server.chat_requests()) == 3", len(server.chat_requests()), expected=3
        )  # grade, answer, check: each tried once
        observed.observe(
            '"llm_error" in result["flags"] and result["route"] == "retrieval"',
            bool("llm_error" in result["flags"] and result["route"] == "retrieval"),
            expected=True,
        )
        observed.observe(
            '"Paris is the capital" in result["answer"]',
            bool("Paris is the capital" in result["answer"]),
            expected=True,
        )  # extractive, still cited
        observed.observe(
            '"language model failed (rate limited (HTTP 429" in notes(result)',
            bool("language model failed (rate limited (HTTP 429" in notes(result)),
            expected=True,
        )


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_exhaust_retries_then_the_fallback_model_answers(
    status, server, fallback_server, static_index, embeddings, fault_ledger
):
    # Groq down, OpenAI up: the configured fallback answers and the user sees a normal answer.
    with fault_ledger.fault("llm", f"{status} then fallback model") as observed:
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
        observed.observe(
            "len(server.chat_requests()) == 6", len(server.chat_requests()), expected=6
        )  # 3 steps x (1 try + 1 retry)
        observed.observe(
            "len(fallback_server.chat_requests()) == 3",
            len(fallback_server.chat_requests()),
            expected=3,
        )
        observed.observe(
            'result["route"] == "retrieval" and result["flags"] == []',
            bool(result["route"] == "retrieval" and result["flags"] == []),
            expected=True,
        )
        observed.observe(
            'result["answer"] == "Paris is the capital of France [1]."',
            result["answer"],
            expected="Paris is the capital of France [1].",
        )
        observed.observe(
            "took < 15", bool(took < 15), expected=True
        )  # three backoffs of <= 0.5 s each, plus the work


@pytest.mark.parametrize("flavour", ["openai", "groq"])
@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_without_fallback_say_so_in_the_answer(
    flavour, status, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", f"{status} with no fallback") as observed:
        server.script(*[Reply.server_error(status)] * 6)
        result, _ = ask(settings(server, flavour, max_retries=1), static_index, embeddings)
        observed.observe(
            "len(server.chat_requests()) == 6", len(server.chat_requests()), expected=6
        )
        observed.observe(
            '"llm_error" in result["flags"] and "grading_fallback" in result["fl...',
            bool("llm_error" in result["flags"] and "grading_fallback" in result["flags"]),
            expected=True,
        )
        observed.observe(
            'result["route"] == "retrieval" and result["mode"] == "llm"',
            bool(result["route"] == "retrieval" and result["mode"] == "llm"),
            expected=True,
        )
        observed.observe(
            'result["citations"][0]["id"] == "france#0"',
            result["citations"][0]["id"],
            expected="france#0",
        )
        observed.observe(
            'f"language model failed (provider error (HTTP {status}" in notes(re...',
            bool(f"language model failed (provider error (HTTP {status}" in notes(result)),
            expected=True,
        )


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_read_timeout_falls_back_within_the_request_timeout(
    flavour, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "read timeout", times=3) as observed:
        server.script(*[Reply.slow(3.0)] * 3)
        ctx = settings(server, flavour, request_timeout=0.4, max_retries=0)
        result, took = ask(ctx, static_index, embeddings)
        observed.observe("took < 3 * 0.4 + SLACK", bool(took < 3 * 0.4 + SLACK), expected=True)
        observed.observe(
            '"llm_error" in result["flags"] and "deadline_exceeded" not in resul...',
            bool("llm_error" in result["flags"] and "deadline_exceeded" not in result["flags"]),
            expected=True,
        )
        observed.observe(
            '"language model failed (timed out" in notes(result)',
            bool("language model failed (timed out" in notes(result)),
            expected=True,
        )
        observed.observe(
            '"Paris is the capital" in result["answer"]',
            bool("Paris is the capital" in result["answer"]),
            expected=True,
        )


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_connection_reset_is_retried_transparently(
    flavour, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "connection reset (retried)") as observed:
        server.script(Reply.reset(), *HAPPY)
        result, _ = ask(settings(server, flavour), static_index, embeddings)
        observed.observe(
            "len(server.chat_requests()) == 4", len(server.chat_requests()), expected=4
        )
        observed.observe(
            'result["flags"] == [] and result["answer"] == "Paris is the capital...',
            bool(
                result["flags"] == [] and result["answer"] == "Paris is the capital of France [1]."
            ),
            expected=True,
        )


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_connection_reset_every_time_falls_back_to_the_fallback_model(
    flavour, server, fallback_server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "connection reset then fallback model", times=3) as observed:
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
        observed.observe(
            "len(fallback_server.chat_requests()) == 3",
            len(fallback_server.chat_requests()),
            expected=3,
        )
        observed.observe(
            'result["flags"] == [] and result["answer"] == "Paris is the capital...',
            bool(
                result["flags"] == [] and result["answer"] == "Paris is the capital of France [1]."
            ),
            expected=True,
        )


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_malformed_200_body_is_a_provider_error(
    flavour, server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "malformed 200 body", times=3) as observed:
        server.script(*[Reply.malformed_body()] * 3)
        result, _ = ask(settings(server, flavour, max_retries=0), static_index, embeddings)
        observed.observe(
            '"llm_error" in result["flags"]', bool("llm_error" in result["flags"]), expected=True
        )
        observed.observe(
            '"Paris is the capital" in result["answer"]',
            bool("Paris is the capital" in result["answer"]),
            expected=True,
        )
        observed.observe(
            '"language model failed" in notes(result)',
            bool("language model failed" in notes(result)),
            expected=True,
        )


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_truncated_stream_while_streaming_tokens_falls_back(
    flavour, server, static_index, embeddings, fault_ledger
):
    # stream_mode="messages" is what `arag ask` uses: the answer step then streams its tokens.
    with fault_ledger.fault("llm", "truncated stream") as observed:
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
        observed.observe(
            'server.chat_requests()[1]["stream"] is True',
            bool(server.chat_requests()[1]["stream"] is True),
            expected=True,
        )
        observed.observe(
            '"and also" not in "".join(tokens)',
            bool("and also" not in "".join(tokens)),
            expected=True,
        )  # the stream really was cut
        observed.observe(
            '"llm_error" in final["flags"]', bool("llm_error" in final["flags"]), expected=True
        )
        observed.observe(
            'final["answer"].startswith("Paris is the capital")',
            bool(final["answer"].startswith("Paris is the capital")),
            expected=True,
        )  # extractive, complete
        observed.observe(
            '"language model failed" in final["messages"][-1].content',
            bool("language model failed" in final["messages"][-1].content),
            expected=True,
        )


def test_groq_failed_generation_that_cannot_be_repaired_is_a_visible_default(
    server, fallback_server, static_index, embeddings, fault_ledger
):
    # A 400 tool_use_failed is malformed output, not an outage: repaired or retried, never
    # sent to the fallback model; after the bounded retries the grader's default is flagged.
    with fault_ledger.fault("llm", "Groq 400 tool_use_failed (unrepairable)", times=3) as observed:
        server.script(
            *[Reply.tool_use_failed("<function=DocumentGrades>I think doc 1</function>")] * 3,
            HAPPY[1],
            HAPPY[2],
        )
        ctx = settings(
            server, "groq", fallback_model=OPENAI, fallback_base_url=fallback_server.base_url
        )
        result, _ = ask(ctx, static_index, embeddings)
        observed.observe(
            "fallback_server.chat_requests() == []", fallback_server.chat_requests(), expected=[]
        )
        observed.observe(
            'result["flags"] == ["grading_fallback"]',
            result["flags"],
            expected=["grading_fallback"],
        )
        observed.observe(
            'result["answer"] == "Paris is the capital of France [1]."',
            result["answer"],
            expected="Paris is the capital of France [1].",
        )
        observed.observe(
            '"structured output was unusable" in notes(result)',
            bool("structured output was unusable" in notes(result)),
            expected=True,
        )


def test_groq_failed_generation_is_repaired_without_another_request(
    server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("llm", "Groq 400 tool_use_failed (repairable)") as observed:
        server.script(
            Reply.tool_use_failed('{"relevant": [1], "reason": "capital"}'), HAPPY[1], HAPPY[2]
        )
        result, _ = ask(settings(server, "groq"), static_index, embeddings)
        observed.observe(
            "len(server.chat_requests()) == 3", len(server.chat_requests()), expected=3
        )
        observed.observe(
            'result["flags"] == [] and result["citations"][0]["id"] == "france#0"',
            bool(result["flags"] == [] and result["citations"][0]["id"] == "france#0"),
            expected=True,
        )


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_deadline_stops_llm_calls_and_the_answer_says_so(
    flavour, server, static_index, embeddings, fault_ledger
):
    # Each reply takes 1.5 s; with a 2 s deadline the grader answers, the writer is cut off at
    # the deadline and the checker is never called.
    with fault_ledger.fault("llm", "slow provider past the request deadline") as observed:
        server.script(*[Reply.slow(1.5, then=r) for r in HAPPY])
        ctx = settings(server, flavour, request_deadline=2.0)
        result, took = ask(ctx, static_index, embeddings)
        observed.observe("took < 2.0 + SLACK", bool(took < 2.0 + SLACK), expected=True)
        observed.observe(
            "len(server.chat_requests()) == 2", len(server.chat_requests()), expected=2
        )
        observed.observe(
            '{"deadline_exceeded", "llm_error"} <= set(result["flags"])',
            bool({"deadline_exceeded", "llm_error"} <= set(result["flags"])),
            expected=True,
        )
        observed.observe(
            'result["answer"].startswith("Paris is the capital")',
            bool(result["answer"].startswith("Paris is the capital")),
            expected=True,
        )
        observed.observe(
            '"request deadline (2 s) was reached" in notes(result)',
            bool("request deadline (2 s) was reached" in notes(result)),
            expected=True,
        )
        check = next(s for s in result["path"] if s["node"] == "check_answer")
        observed.observe(
            '"request deadline reached" in check["reason"]',
            bool("request deadline reached" in check["reason"]),
            expected=True,
        )


def test_retries_stop_at_the_deadline(server, static_index, embeddings, fault_ledger):
    # 503s with a 1 s Retry-After and 5 retries allowed: without the deadline one step alone
    # would take 5 s; with a 2.5 s deadline the whole question stays under it.
    with fault_ledger.fault("llm", "503 retries cut at the deadline") as observed:
        server.script(*[Reply(fault="status", status=503, retry_after=1)] * 20)
        ctx = settings(server, "openai", max_retries=5, request_deadline=2.5)
        result, took = ask(ctx, static_index, embeddings)
        observed.observe("took < 2.5 + SLACK", bool(took < 2.5 + SLACK), expected=True)
        # The grader retries while a 1 s wait still fits (3 requests); later steps try once.
        observed.observe(
            "3 <= len(server.chat_requests()) <= 6",
            bool(3 <= len(server.chat_requests()) <= 6),
            expected=True,
        )
        observed.observe(
            '"llm_error" in result["flags"]', bool("llm_error" in result["flags"]), expected=True
        )
        observed.observe(
            '"Paris is the capital" in result["answer"]',
            bool("Paris is the capital" in result["answer"]),
            expected=True,
        )


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
    with fault_ledger.fault("structured", f"grader: {kind}", times=3) as observed:
        server.script(*[GRADER_MALFORMED[kind]] * 3, HAPPY[1], HAPPY[2])
        result, _ = ask(settings(server, flavour), static_index, embeddings)
        observed.observe(
            "len(server.chat_requests()) == 5", len(server.chat_requests()), expected=5
        )
        corrective = server.chat_requests()[1]["messages"][-1]["content"]
        observed.observe(
            '"DocumentGrades" in corrective', bool("DocumentGrades" in corrective), expected=True
        )  # the retry says what was wrong
        observed.observe(
            'result["flags"] == ["grading_fallback"] and result["route"] == "ret...',
            bool(result["flags"] == ["grading_fallback"] and result["route"] == "retrieval"),
            expected=True,
        )
        grade = next(s for s in result["path"] if s["node"] == "grade_documents")
        observed.observe(
            '"unusable grader output" in grade["reason"]',
            bool("unusable grader output" in grade["reason"]),
            expected=True,
        )
        observed.observe(
            'result["citations"][0]["id"] == "france#0"',
            result["citations"][0]["id"],
            expected="france#0",
        )
        observed.observe(
            '"structured output was unusable" in notes(result)',
            bool("structured output was unusable" in notes(result)),
            expected=True,
        )


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
    with fault_ledger.fault("structured", "grader: repairable malformation") as observed:
        server.script(reply, HAPPY[1], HAPPY[2])
        result, _ = ask(settings(server, "openai"), static_index, embeddings)
        observed.observe(
            "len(server.chat_requests()) == 3", len(server.chat_requests()), expected=3
        )
        observed.observe(
            'result["flags"] == [] and result["citations"][0]["id"] == "france#0"',
            bool(result["flags"] == [] and result["citations"][0]["id"] == "france#0"),
            expected=True,
        )


def test_unusable_checker_output_falls_back_to_the_sentence_check(
    server, static_index, embeddings, fault_ledger
):
    with fault_ledger.fault("structured", "checker: wrong types", times=3) as observed:
        bad = Reply.tool_call({"grounded": "maybe", "useful": {"x": 1}})
        server.script(HAPPY[0], HAPPY[1], bad, bad, bad)
        result, _ = ask(settings(server, "openai"), static_index, embeddings)
        observed.observe(
            'result["flags"] == ["check_fallback"]', result["flags"], expected=["check_fallback"]
        )
        check = next(s for s in result["path"] if s["node"] == "check_answer")
        observed.observe(
            'check["decision"] == "ok" and "unusable checker output" in check["r...',
            bool(check["decision"] == "ok" and "unusable checker output" in check["reason"]),
            expected=True,
        )
        observed.observe(
            'result["answer"] == "Paris is the capital of France [1]."',
            result["answer"],
            expected="Paris is the capital of France [1].",
        )


def test_unusable_rewrite_output_falls_back_to_feedback_queries(
    server, static_index, embeddings, fault_ledger
):
    # Nothing relevant for this question: the rewriter runs, and its output is garbage.
    with fault_ledger.fault("structured", "rewriter: missing fields", times=3) as observed:
        none = Reply.tool_call({"relevant": [], "reason": "off topic"})
        bad = Reply.tool_call({"variants": "banana"})
        server.script(
            Reply.say("Maybe.", logprob=-2.0), none, bad, bad, bad, none, bad, bad, bad, none
        )
        ctx = settings(server, "openai", max_rewrites=2)
        result, _ = ask(ctx, static_index, embeddings, "Which fruit has the most potassium?")
        observed.observe(
            '"rewrite_fallback" in result["flags"] and result["route"] == "insuf...',
            bool("rewrite_fallback" in result["flags"] and result["route"] == "insufficient"),
            expected=True,
        )
        rewrites = [s for s in result["path"] if s["node"] == "rewrite_query"]
        observed.observe("len(rewrites) == 2", len(rewrites), expected=2)
        observed.observe(
            'all("pseudo-relevance feedback" in s["reason"] for s in rewrites)',
            bool(all("pseudo-relevance feedback" in s["reason"] for s in rewrites)),
            expected=True,
        )
