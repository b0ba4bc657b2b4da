"""``arag serve`` driven by the official ``openai`` package: answers, streaming, threads, auth."""

from __future__ import annotations

import uuid

import httpx
import openai
import pytest

from tests.serving import ROOT, arag_serve, copy_index

pytestmark = pytest.mark.integration

ALICE = "alice-key-0123456789abcdef"
BOB = "bob-key-0123456789abcdef00"
TESLA = "What year did Tesla die?"
FOLLOW_UP = "Who did he partner with in 1886?"


@pytest.fixture(scope="module")
def server(sample_data_dir, tmp_path_factory):
    data = copy_index(sample_data_dir, tmp_path_factory.mktemp("serve") / "data")
    with arag_serve(
        data,
        tmp_path_factory.mktemp("serve-logs"),
        ARAG_API_KEYS=f"alice:{ALICE},bob:{BOB}",
        ARAG_MAX_BODY_BYTES="20000",
    ) as proc:
        yield proc


def client(server, key: str = ALICE) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)


def extra(obj) -> dict:
    return obj.model_extra or {}


def test_models_lists_the_graph_and_keys_are_required(server):
    assert [m.id for m in client(server).models.list()] == ["adaptive-rag"]
    with pytest.raises(openai.AuthenticationError, match="Invalid API key"):
        client(server, "not-a-key-0123456789").models.list()
    bare = httpx.post(server.url + "/v1/chat/completions", json={"messages": []})
    assert bare.status_code == 401
    assert bare.json()["error"]["type"] == "authentication_error"
    assert bare.headers["www-authenticate"] == "Bearer"


def test_x_api_key_is_accepted_beside_bearer(server):
    # What langgraph_sdk's get_client(api_key=...) and agent-chat-ui send.
    ok = httpx.get(server.url + "/v1/models", headers={"X-Api-Key": ALICE})
    assert ok.status_code == 200 and ok.json()["data"][0]["id"] == "adaptive-rag"
    wrong = httpx.get(server.url + "/v1/models", headers={"X-Api-Key": "not-a-key-0123456789"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "Invalid API key."


def test_answer_has_numbered_sources_in_text_and_as_data(server):
    raw = client(server).chat.completions.with_raw_response.create(
        model="adaptive-rag",
        messages=[{"role": "user", "content": TESLA}],
        extra_headers={"X-Request-Id": "req-answer-1"},
    )
    assert raw.headers["x-request-id"] == "req-answer-1"
    completion = raw.parse()
    text = completion.choices[0].message.content
    assert "1943" in text
    assert "[1]" in text and "\n\nSources:\n[1] " in text and "nikola_tesla.md" in text
    citations = extra(completion)["citations"]
    assert citations[0]["n"] == 1 and citations[0]["source"].endswith("nikola_tesla.md")
    # The chunk id names the file under the ingest root, never the server's path to it.
    assert citations[0]["id"].startswith("nikola_tesla.md#"), citations[0]["id"]
    assert str(ROOT) not in raw.http_response.text  # the sample corpus lies in the repository
    assert extra(completion.choices[0].message)["citations"] == citations
    assert extra(completion)["route"] == "retrieval"
    assert extra(completion)["thread_id"] is None  # no thread id given: stateless


def test_stream_sends_only_the_answer_then_citations(server):
    question = [{"role": "user", "content": TESLA}]
    whole = client(server).chat.completions.create(model="adaptive-rag", messages=question)
    chunks = list(
        client(server).chat.completions.create(model="adaptive-rag", messages=question, stream=True)
    )
    deltas = [c.choices[0].delta.content or "" for c in chunks]
    assert len([d for d in deltas if d]) > 5  # word-sized pieces, not one blob
    assert "".join(deltas) == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert extra(chunks[-1])["citations"][0]["source"].endswith("nikola_tesla.md")
    # Progress travels as SSE comments, which the SDK above ignored; the stream ends with [DONE].
    with httpx.stream(
        "POST",
        server.url + "/v1/chat/completions",
        json={"model": "adaptive-rag", "messages": question, "stream": True},
        headers={"Authorization": f"Bearer {ALICE}"},
    ) as response:
        body = response.read().decode()
    assert response.headers["content-type"].startswith("text/event-stream")
    assert ': progress {"node": "retrieve_documents"' in body
    assert body.rstrip().endswith("data: [DONE]")


def test_thread_is_resumed_from_its_id_and_owned_by_its_key(server):
    thread = f"conv-{uuid.uuid4().hex[:8]}"
    alice = client(server)
    headers = {"X-Thread-Id": thread}
    first = alice.chat.completions.create(
        model="adaptive-rag", messages=[{"role": "user", "content": TESLA}], extra_headers=headers
    )
    assert extra(first)["thread_id"] == thread
    # Only the new message is sent: the thread holds the history.
    second = alice.chat.completions.create(
        model="adaptive-rag",
        messages=[{"role": "user", "content": FOLLOW_UP}],
        extra_headers=headers,
    )
    assert "Robert Lane" in second.choices[0].message.content
    assert extra(second)["path"][0]["decision"] == "offline_context"  # condense used the history
    stored = httpx.get(
        f"{server.url}/v1/threads/{thread}", headers={"Authorization": f"Bearer {ALICE}"}
    )
    assert [m["role"] for m in stored.json()["messages"]] == ["user", "assistant"] * 2
    # Another key: the thread does not exist for it, neither to read nor to continue.
    other = httpx.get(
        f"{server.url}/v1/threads/{thread}", headers={"Authorization": f"Bearer {BOB}"}
    )
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    with pytest.raises(openai.NotFoundError, match="No thread"):
        client(server, BOB).chat.completions.create(
            model="adaptive-rag",
            messages=[{"role": "user", "content": FOLLOW_UP}],
            extra_body={"metadata": {"thread_id": thread}},
        )


def test_client_kept_history_needs_no_thread(server):
    first = client(server).chat.completions.create(
        model="adaptive-rag", messages=[{"role": "user", "content": TESLA}]
    )
    history = [
        {"role": "system", "content": "You are helpful."},  # dropped: the graph has its prompts
        {"role": "user", "content": TESLA},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": FOLLOW_UP},
    ]
    second = client(server).chat.completions.create(model="adaptive-rag", messages=history)
    assert "Robert Lane" in second.choices[0].message.content
    assert extra(second)["path"][0]["decision"] == "offline_context"


def test_bad_requests_get_clear_openai_errors(server):
    alice = client(server)
    with pytest.raises(openai.BadRequestError, match="messages"):
        alice.chat.completions.create(model="adaptive-rag", messages=[])
    with pytest.raises(openai.NotFoundError, match="use 'adaptive-rag'"):
        alice.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="user message"):
        alice.chat.completions.create(
            model="adaptive-rag", messages=[{"role": "system", "content": "hi"}]
        )
    with pytest.raises(openai.APIStatusError, match="larger than 20000 bytes") as too_big:
        alice.chat.completions.create(
            model="adaptive-rag", messages=[{"role": "user", "content": "x" * 30000}]
        )
    assert too_big.value.status_code == 413
    bad_thread = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "adaptive-rag", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {ALICE}", "X-Thread-Id": "x" * 300},
    )
    assert bad_thread.status_code == 400
    assert bad_thread.json()["error"]["code"] == "invalid_thread_id"


def test_health_readiness_and_logs_without_secrets(server):
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"index": "ok", "threads": "ok", "disk": "ok"},
        "index_chunks": 12,  # the sample corpus
    }
    httpx.get(
        server.url + "/v1/models",
        headers={"Authorization": f"Bearer {BOB}", "X-Request-Id": "req-log-check"},
    )
    log = server.log()
    assert "auth: bearer keys for alice, bob" in log
    line = next(x for x in log.splitlines() if "req-log-check" in x)
    assert '"owner": "bob"' in line and '"status": 200' in line and '"path": "/v1/models"' in line
    assert ALICE not in log and BOB not in log


@pytest.mark.reliability
def test_auth_negative_cases_never_leak_a_thread(server, fault_ledger):
    """Wrong key, no key, another key's thread, forged and malformed thread ids."""
    thread = f"owned-{uuid.uuid4().hex[:8]}"
    client(server).chat.completions.create(
        model="adaptive-rag",
        messages=[{"role": "user", "content": TESLA}],
        extra_headers={"X-Thread-Id": thread},
    )
    url = f"{server.url}/v1/threads"
    as_bob = {"Authorization": f"Bearer {BOB}"}
    with fault_ledger.fault("auth", "wrong, missing or malformed bearer key", times=3) as observed:
        for headers in (
            {"Authorization": "Bearer wrong-key-0123456789"},
            {},
            {"Authorization": ALICE},
        ):
            denied = httpx.get(f"{url}/{thread}", headers=headers)
            observed.observe(
                'denied.status_code == 401 and "messages" not in denied.text',
                bool(denied.status_code == 401 and "messages" not in denied.text),
                expected=True,
            )
    with fault_ledger.fault("auth", "another key's thread id") as observed:
        observed.observe(
            'httpx.get(f"{url}/{thread}", headers=as_bob).status_code == 404',
            httpx.get(f"{url}/{thread}", headers=as_bob).status_code,
            expected=404,
        )
    with fault_ledger.fault("auth", "forged or malformed thread id", times=3) as observed:
        observed.observe(
            'httpx.get(f"{url}/{uuid.uuid4()}", headers=as_bob).status_code == 404',
            httpx.get(f"{url}/{uuid.uuid4()}", headers=as_bob).status_code,
            expected=404,
        )
        bad = httpx.post(
            f"{server.url}/v1/chat/completions",
            headers=as_bob,
            json={
                "model": "adaptive-rag",
                "messages": [{"role": "user", "content": TESLA}],
                "metadata": {"thread_id": "../../etc/passwd\x00"},
            },
        )
        observed.observe(
            'bad.status_code == 400 and "thread" in bad.json()["error"]["message...',
            bool(bad.status_code == 400 and "thread" in bad.json()["error"]["message"].lower()),
            expected=True,
        )
        observed.observe(
            "httpx.get(f\"{url}/{'x' * 500}\", headers=as_bob).status_code in (400...",
            bool(httpx.get(f"{url}/{'x' * 500}", headers=as_bob).status_code in (400, 404)),
            expected=True,
        )


@pytest.mark.parametrize(
    "extra_body",
    [
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
        {"tool_choice": "required"},
        {"response_format": {"type": "json_object"}},
    ],
)
def test_tools_and_structured_output_get_a_clear_400(server, extra_body):
    with pytest.raises(openai.BadRequestError) as refused:
        client(server).chat.completions.create(
            model="adaptive-rag", messages=[{"role": "user", "content": TESLA}], **extra_body
        )
    assert refused.value.body["code"] == "unsupported_parameter"
    assert "not supported" in refused.value.body["message"]


def test_a_thread_id_ending_in_a_newline_is_refused(server):
    with pytest.raises(openai.BadRequestError) as refused:
        client(server).chat.completions.create(
            model="adaptive-rag",
            messages=[{"role": "user", "content": TESLA}],
            metadata={"thread_id": "my-thread\n"},
        )
    assert refused.value.body["code"] == "invalid_thread_id"


def test_no_docs_page_loads_scripts_from_a_cdn(server):
    assert httpx.get(server.url + "/docs").status_code == 404
    assert httpx.get(server.url + "/redoc").status_code == 404
    assert httpx.get(server.url + "/openapi.json").json()["info"]["title"] == "adaptive-rag"
