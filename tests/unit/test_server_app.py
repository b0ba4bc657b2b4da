"""The /v1 app in process with a stub runner: limits, timeouts, errors, SSE framing, keys."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager

import httpx
import pytest

from arag.server.app import create_app
from arag.server.auth import LOCAL_OWNER, owner_for
from arag.server.errors import ApiError
from arag.server.logging import RedactSecrets
from arag.server.openai_api import word_chunks
from arag.server.runner import Final, Step
from arag.server.settings import ServerSettings, SettingsError, parse_api_keys

KEY = "k" * 20
ANSWER = "Tesla died in 1943 [1].\n\nSources:\n[1] Nikola Tesla — tesla.md"
CITATION = {"n": 1, "id": "tesla.md#0", "title": "Nikola Tesla", "source": "tesla.md"}


class StubRunner:
    """Answers after ``delay`` seconds; one thread ``t1`` owned by ``alice``."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.inputs: list = []

    def thread_id(self, requested):
        return requested

    async def owner_of(self, thread_id):
        return "alice" if thread_id == "t1" else None

    async def workspace_of(self, thread_id):
        return "default"

    async def run(self, messages, thread_id, owner, context=None):
        self.inputs.append((messages, thread_id, owner))
        yield Step({"node": "retrieve_documents", "decision": "3 documents", "reason": "r"})
        await asyncio.sleep(self.delay)
        yield Final(content=ANSWER, answer="Tesla died in 1943 [1].", citations=[CITATION])

    async def messages(self, thread_id):
        return []

    async def ready(self):
        return {"index": "No index at /x. Run `arag ingest PATH` first.", "threads": None}

    async def index_chunks(self):
        return 12

    async def warm(self):
        return None

    async def threads_of(self, owner):
        return 0


@asynccontextmanager
async def serving(runner: StubRunner, **settings):
    keys = {KEY: "alice"}
    app = create_app(ServerSettings(api_keys=keys, **settings), lambda: _yield(runner))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as client:
            yield client


@asynccontextmanager
async def _yield(runner):
    yield runner


def chat(**extra):
    return {"model": "adaptive-rag", "messages": [{"role": "user", "content": "q"}], **extra}


async def test_slow_answer_is_a_504_in_openai_format():
    async with serving(StubRunner(delay=2), request_timeout=0.2) as client:
        reply = await client.post("/v1/chat/completions", json=chat())
    assert reply.status_code == 504
    assert reply.json()["error"]["type"] == "timeout_error"
    assert "0.2 s" in reply.json()["error"]["message"]


async def test_slow_stream_ends_with_an_error_event_and_done():
    async with serving(StubRunner(delay=2), request_timeout=0.2) as client:
        reply = await client.post("/v1/chat/completions", json=chat(stream=True))
    events = [e for e in reply.text.split("\n\n") if e.startswith("data: ")]
    assert json.loads(events[-2][6:])["error"]["code"] == "timeout"
    assert events[-1] == "data: [DONE]"


async def test_body_limit_is_a_413_even_without_content_length():
    async def chunks():
        for _ in range(10):
            yield b"x" * 1000

    async with serving(StubRunner(), max_body_bytes=5000) as client:
        declared = await client.post("/v1/chat/completions", content=b"x" * 6000)
        streamed = await client.post("/v1/chat/completions", content=chunks())
    for reply in (declared, streamed):
        assert reply.status_code == 413
        assert reply.json()["error"]["message"] == "Request body is larger than 5000 bytes."


async def test_stream_frames_progress_as_comments_and_answer_as_chunks():
    async with serving(StubRunner()) as client:
        reply = await client.post(
            "/v1/chat/completions", json=chat(stream=True), headers={"X-Request-Id": "abc-1"}
        )
    assert reply.headers["x-request-id"] == "abc-1"
    frames = reply.text.split("\n\n")
    assert frames[1].startswith(": progress ") and "retrieve_documents" in frames[1]
    data = [json.loads(f[6:]) for f in frames if f.startswith("data: {")]
    assert data[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(d["choices"][0]["delta"].get("content", "") for d in data)
    assert text == ANSWER
    assert data[-1]["choices"][0]["finish_reason"] == "stop"
    assert data[-1]["citations"] == [CITATION]


async def test_thread_turn_sends_only_the_new_message_and_checks_the_owner():
    runner = StubRunner()
    history = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "second"},
    ]
    async with serving(runner) as client:
        ok = await client.post(
            "/v1/chat/completions",
            json={"model": "adaptive-rag", "messages": history},
            headers={"X-Thread-Id": "t1"},
        )
        stateless = await client.post(
            "/v1/chat/completions", json={"model": "adaptive-rag", "messages": history}
        )
    assert ok.status_code == 200 and ok.headers["x-thread-id"] == "t1"
    assert runner.inputs[0] == ([{"role": "user", "content": "second"}], "t1", "alice")
    assert stateless.json()["thread_id"] is None
    assert runner.inputs[1][0] == history and runner.inputs[1][1] is None


async def test_readiness_reports_the_reason():
    async with serving(StubRunner()) as client:
        reply = await client.get("/readyz")
    assert reply.status_code == 503
    assert reply.json()["checks"] == {
        "index": "No index at x. Run `arag ingest PATH` first.",  # no server path: anyone asks
        "threads": "ok",
    }


def test_api_keys_parse_and_reject_bad_entries_without_echoing_keys():
    assert parse_api_keys(f"alice:{KEY}, bob:{'b' * 16}\n# note") == {KEY: "alice", "b" * 16: "bob"}
    with pytest.raises(SettingsError, match="shorter than 16") as short:
        parse_api_keys("alice:short-key")
    assert "short-key" not in str(short.value)
    with pytest.raises(SettingsError, match="name:key"):
        parse_api_keys(KEY)
    with pytest.raises(SettingsError, match="same key"):
        parse_api_keys(f"a:{KEY},b:{KEY}")


def test_owner_comes_from_the_bearer_key():
    keys = {KEY: "alice"}
    assert owner_for(f"Bearer {KEY}", keys) == "alice"
    assert owner_for(None, {}) == LOCAL_OWNER
    for header in (None, KEY, f"Basic {KEY}", "Bearer wrong-key-0123456789"):
        with pytest.raises(ApiError) as denied:
            owner_for(header, keys)
        assert denied.value.status == 401


def test_word_chunks_rebuild_the_text_exactly():
    text = "  Tesla died  in 1943 [1].\n\nSources:\n[1] x — y  "
    assert "".join(word_chunks(text)) == text
    assert len(word_chunks(text)) > 5


def test_secrets_are_masked_in_log_records():
    record = logging.LogRecord("x", logging.INFO, "", 0, "failed with %s", (KEY,), None)
    RedactSecrets([KEY]).filter(record)
    assert record.getMessage() == "failed with ***"


async def test_the_spec_documents_the_errors_both_completion_routes_answer():
    # schemathesis (benchmarks/schemathesis_run.py) found /v1/responses answering an
    # undocumented 400; a full disk answers 507 on both.
    async with serving(StubRunner()) as client:
        spec = (await client.get("/openapi.json")).json()
    for path in ("/v1/chat/completions", "/v1/responses"):
        documented = set(spec["paths"][path]["post"]["responses"])
        assert {"400", "401", "409", "429", "504", "507"} <= documented, (path, documented)


async def test_stream_must_be_a_json_boolean():
    # schemathesis found {"stream": 0} answered 200 on /v1/responses: the schema says boolean.
    async with serving(StubRunner()) as client:
        responses = await client.post(
            "/v1/responses", json={"model": "adaptive-rag", "input": "hi", "stream": 0}
        )
        chat = await client.post(
            "/v1/chat/completions",
            json={
                "model": "adaptive-rag",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": "yes",
            },
        )
    for reply in (responses, chat):
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["param"] == "stream" or "stream" in reply.text


async def test_token_bounds_must_be_json_integers():
    # schemathesis found a schema-violating max_output_tokens answered 200: "7" was coerced.
    async with serving(StubRunner()) as client:
        responses = await client.post(
            "/v1/responses", json={"model": "adaptive-rag", "input": "hi", "max_output_tokens": "7"}
        )
        chat = await client.post(
            "/v1/chat/completions",
            json={
                "model": "adaptive-rag",
                "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 7.5,
            },
        )
    for reply in (responses, chat):
        assert reply.status_code == 400, reply.text
        assert "max_" in reply.json()["error"]["param"]
