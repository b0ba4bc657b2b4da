"""Real ChatOpenAI / ChatGroq clients against the local OpenAI-wire stand-in.

These cover what a user would notice: structured output that survives Llama-style mistakes,
confidence scores from logprobs or verbalized, rate-limit retries, streaming, model choice
from the environment, and api keys that never leak.
"""

from __future__ import annotations

import math
import time

import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel, Field

from graph import prompts
from graph.config import Context
from tests.fakes.openai_server import Reply
from tests.runs import closed_book, structured
from tools.llm.chat_models import (
    load_chat_model,
    provider_of,
    resolve_model_spec,
    supports_logprobs,
)
from tools.llm.closed_book import closed_book_answer, logprob_confidence
from tools.llm.structured import invoke_structured

SECRET = "sk-test-SECRET-0123456789"


class Grade(BaseModel):
    relevant: bool
    score: float = Field(ge=0, le=1)


pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_provider_env")]


@pytest.fixture
def openai_model(server):
    return load_chat_model("openai:fake-model", base_url=server.base_url, timeout=5)


@pytest.fixture
def groq_model(server, monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "test-key")
    return load_chat_model("groq:llama-3.3-70b-versatile", base_url=server.groq_base_url, timeout=5)


# --- structured output over the wire -------------------------------------------------------


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_function_calling_structured_output_parses(flavour, server, request):
    model = request.getfixturevalue(f"{flavour}_model")
    server.script(Reply.tool_call({"relevant": True, "score": 0.75}))
    result = structured(model, Grade, "Grade this document.")
    assert result.ok and not result.repaired
    assert result.value == Grade(relevant=True, score=0.75)
    sent = server.chat_requests()[0]
    assert sent["tools"][0]["function"]["name"] == "Grade"
    assert sent["tool_choice"]["function"]["name"] == "Grade"


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_malformed_tool_arguments_are_repaired(flavour, server, request):
    model = request.getfixturevalue(f"{flavour}_model")
    server.script(Reply.raw_tool_call("```json\n{'relevant': 'yes', 'score': '0.8',}\n```"))
    result = structured(model, Grade, "Grade this document.")
    assert result.ok and result.repaired and result.attempts == 1
    assert result.value == Grade(relevant=True, score=0.8)
    assert len(server.requests) == 1


def test_groq_tool_use_failed_is_repaired_from_failed_generation(groq_model, server):
    server.script(
        Reply.tool_use_failed('<function=Grade>{"relevant": "false", "score": "0.1"}</function>')
    )
    result = structured(groq_model, Grade, "Grade this document.")
    assert result.ok and result.repaired
    assert result.value == Grade(relevant=False, score=0.1)
    assert len(server.requests) == 1
    assert server.requests[0].path == "/openai/v1/chat/completions"


def test_tool_use_failed_through_the_openai_client_is_repaired_too(openai_model, server):
    # Teams also reach Groq via its OpenAI-compatible endpoint with ChatOpenAI.
    server.script(Reply.tool_use_failed('{"relevant": true, "score": 1}'))
    result = structured(openai_model, Grade, "Grade this document.")
    assert result.ok and result.value == Grade(relevant=True, score=1.0)


def test_repeated_garbage_fails_readably_after_bounded_retries(groq_model, server):
    server.script(
        Reply.tool_use_failed("I'm sorry, I can't help with that."),
        Reply.raw_tool_call("relevant: maybe"),
        Reply.say("Still no JSON."),
        Reply.tool_call({"relevant": True, "score": 0.5}),  # must never be requested
    )
    result = structured(groq_model, Grade, "Grade this document.", retries=2)
    assert not result.ok and result.value is None
    assert result.attempts == 3 and len(server.requests) == 3 and server.pending() == 1
    assert result.error.startswith("Grade: no valid output after 3 attempt(s)")
    assert "test-key" not in result.error
    corrective = server.chat_requests()[1]["messages"][-1]
    assert corrective["role"] == "user" and "relevant (bool)" in corrective["content"]


async def test_async_path_repairs_groq_failed_generation(groq_model, server):
    server.script(
        Reply.tool_use_failed("not json at all"), Reply.tool_call({"relevant": "no", "score": 0})
    )
    result = await invoke_structured(groq_model, Grade, "Grade this document.")
    assert result.ok and result.attempts == 2 and result.value == Grade(relevant=False, score=0)


# --- confidence ----------------------------------------------------------------------------


def test_logprob_confidence_comes_from_the_wire(openai_model, server):
    server.script(Reply.say("The capital is Paris.", logprob=-0.01))
    result = closed_book(openai_model, "What is the capital of France?")
    assert result.method == "logprobs" and not result.abstained
    assert result.answer == "The capital is Paris."
    assert result.confidence == pytest.approx(math.exp(-0.01), abs=1e-6)  # ~0.99
    sent = server.chat_requests()[0]
    assert sent["logprobs"] is True and "tools" not in sent
    question = sent["messages"][-1]["content"]
    assert question == "<question>\nWhat is the capital of France?\n</question>"


def test_low_logprobs_give_low_confidence_and_whitespace_tokens_are_ignored(openai_model, server):
    tokens, lps = ["Maybe", " ", " Lyon", "\n"], [-2.0, 0.0, -1.0, 0.0]
    server.script(Reply.say("Maybe  Lyon\n", tokens=tokens, logprob=lps))
    result = closed_book(openai_model, "What is the capital of France?")
    assert result.confidence == pytest.approx(math.exp(-1.5))


async def test_closed_book_answer_awaited_in_a_running_loop(openai_model, server):
    server.script(Reply.say("Paris", logprob=-0.01))
    result = await closed_book_answer(
        openai_model,
        "What is the capital of France?",
        logprob_prompt=prompts.CLOSED_BOOK_LOGPROB,
        verbalized_prompt=prompts.CLOSED_BOOK_VERBALIZED,
    )
    assert result.method == "logprobs" and result.confidence == pytest.approx(0.99, abs=1e-3)


def test_compatible_server_without_logprobs_falls_back_to_verbalized(openai_model, server):
    # Some llama.cpp / Ollama builds ignore `logprobs`; the answer must still get a score.
    server.script(
        Reply.say("Paris", logprob=None),
        Reply.tool_call({"answer": "Paris", "confidence": 0.6}),
    )
    result = closed_book(openai_model, "What is the capital of France?")
    assert result == type(result)("Paris", 0.6, "verbalized", False)
    assert [bool(r.get("tools")) for r in server.chat_requests()] == [False, True]


def test_unknown_means_abstain_with_zero_confidence(openai_model, server):
    server.script(Reply.say("UNKNOWN", logprob=-0.001))
    result = closed_book(openai_model, "Who won the 2031 Ballon d'Or?")
    assert result.abstained and result.confidence == 0.0 and result.method == "logprobs"


def test_groq_uses_verbalized_confidence(groq_model, server):
    server.script(Reply.tool_call({"answer": "Paris", "confidence": 85}))
    result = closed_book(groq_model, "What is the capital of France?", language="fr")
    assert result == type(result)("Paris", 0.85, "verbalized", False)
    sent = server.chat_requests()[0]
    assert "logprobs" not in sent and sent["tools"][0]["function"]["name"] == "ClosedBookAnswer"
    assert "French" in sent["messages"][0]["content"]


def test_unusable_verbalized_output_gives_confidence_zero(groq_model, server):
    server.script(*[Reply.say("I think it's Paris, fairly sure.")] * 3)
    result = closed_book(groq_model, "What is the capital of France?")
    assert result.method == "none" and result.confidence == 0.0
    assert len(server.requests) == 3


def test_logprob_confidence_is_none_without_logprobs():
    assert logprob_confidence(AIMessage("Paris")) is None
    empty = AIMessage("Paris", response_metadata={"logprobs": {"content": []}})
    assert logprob_confidence(empty) is None


# --- transport behaviour ---------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_rate_limit_is_retried_after_retry_after(flavour, server, request):
    model = request.getfixturevalue(f"{flavour}_model")
    server.script(Reply.rate_limited(retry_after=1), Reply.say("ok"))
    start = time.monotonic()
    assert model.invoke("hello").content == "ok"
    assert time.monotonic() - start >= 0.95
    assert len(server.requests) == 2


def test_rate_limit_propagates_when_retries_are_exhausted(server):
    model = load_chat_model("openai:fake-model", base_url=server.base_url, max_retries=0)
    server.script(Reply.rate_limited(retry_after=1))
    with pytest.raises(Exception) as info:
        structured(model, Grade, "Grade this document.")
    assert getattr(info.value, "status_code", None) == 429


@pytest.mark.parametrize(
    "reply",
    [
        Reply.server_error(500),
        Reply.server_error(503),
        Reply.reset(),
        Reply.slow(1.0),
        Reply.malformed_body(),
    ],
    ids=["500", "503", "connection-reset", "timeout", "malformed-200-body"],
)
@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_transport_faults_propagate_for_the_caller_to_route(flavour, reply, server, monkeypatch):
    # Not "malformed output": invoke_structured must not swallow these into ok=False.
    monkeypatch.setenv("GROQ_API_KEY", "test-key")
    spec, url = (
        ("openai:fake-model", server.base_url)
        if flavour == "openai"
        else ("groq:llama-3.3-70b-versatile", server.groq_base_url)
    )
    model = load_chat_model(spec, base_url=url, max_retries=0, timeout=0.3)
    server.script(reply)
    with pytest.raises(Exception):  # noqa: B017 - the concrete class differs per SDK
        structured(model, Grade, "Grade this document.")
    assert len(server.requests) == 1


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_truncated_stream_raises_instead_of_ending_quietly(flavour, server, request):
    model = request.getfixturevalue(f"{flavour}_model")
    server.script(Reply.truncated_stream("one two three four five six"))
    received = []
    with pytest.raises(Exception):  # noqa: B017 - openai wraps it, groq raises httpx's error
        for chunk in model.stream("hello"):
            received.append(chunk.content)
    assert "".join(received).startswith("one") and "six" not in "".join(received)


def test_stand_in_lists_models(server):
    import openai

    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    assert [m.id for m in client.models.list()] == ["fake-model"]


@pytest.mark.parametrize("flavour", ["openai", "groq"])
def test_streaming_tokens_arrive_incrementally(flavour, server, request):
    model = request.getfixturevalue(f"{flavour}_model")
    server.script(Reply.say("Paris is the capital"))
    chunks = [c.content for c in model.stream("What is the capital of France?")]
    assert [c for c in chunks if c] == ["Paris", " is", " the", " capital"]
    assert server.chat_requests()[0]["stream"] is True


# --- model choice and secrets ------------------------------------------------------------------


def test_model_spec_precedence(monkeypatch):
    # Run-time context, then ARAG_MODEL (read by Context only), then the provider keys.
    def spec(**context):
        return resolve_model_spec(Context(**context).model)

    assert spec() is None
    monkeypatch.setenv("GROQ_API_KEY", "g")
    assert spec() == "groq:llama-3.3-70b-versatile"
    monkeypatch.setenv("OPENAI_API_KEY", "o")
    assert spec() == "openai:gpt-4o-mini"
    monkeypatch.setenv("ARAG_MODEL", "groq:llama-3.1-8b-instant")
    assert spec() == "groq:llama-3.1-8b-instant"
    assert spec(model="openai:gpt-4o") == "openai:gpt-4o"
    assert spec(model="offline") is None
    monkeypatch.setenv("ARAG_MODEL", "none")
    assert spec() is None


def test_unknown_provider_lists_supported_prefixes():
    with pytest.raises(ValueError, match="supported prefixes: openai, groq") as info:
        load_chat_model("anthropicx:claude")
    assert "'anthropicx'" in str(info.value)
    with pytest.raises(ValueError, match="provider:model"):
        load_chat_model(SECRET)
    with pytest.raises(ValueError) as info:
        load_chat_model(SECRET + ":model")
    assert SECRET not in str(info.value)


def test_base_url_from_env_means_openai_compatible_with_placeholder_key(server, monkeypatch):
    monkeypatch.setenv("ARAG_BASE_URL", server.base_url)
    model = load_chat_model("openai:llama3.1", base_url=Context().base_url)
    assert provider_of(model) == "openai-compatible" and supports_logprobs(model)
    assert load_chat_model("openai:llama3.1", base_url=Context().base_url) is model  # cached
    server.script(Reply.say("hi"))
    model.invoke("hello")
    assert server.requests[0].headers["authorization"] == "Bearer not-needed"
    assert server.chat_requests()[0]["model"] == "llama3.1"


def test_api_keys_never_appear_in_repr(server, monkeypatch):
    monkeypatch.setenv("ARAG_API_KEY", SECRET)
    compatible = load_chat_model("vllm:qwen", base_url=server.base_url)
    monkeypatch.setenv("GROQ_API_KEY", SECRET)
    groq_model = load_chat_model("groq:llama-3.3-70b-versatile", base_url=server.groq_base_url)
    assert provider_of(groq_model) == "groq" and not supports_logprobs(groq_model)
    for model in (compatible, groq_model, compatible.bind(logprobs=True)):
        assert SECRET not in repr(model) and SECRET not in str(model)
    server.script(Reply.say("hi"))
    compatible.invoke("hello")
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"  # but it is sent
