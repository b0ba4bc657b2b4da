"""A client that disconnects mid-stream: the turn still completes and the thread stays whole.

A real ``arag serve`` over a fake OpenAI endpoint whose first answer takes 3 s, so the client
is certainly gone while the graph is still waiting for the model. The client reads the first
SSE chunk of a streamed, threaded request and closes the connection; then the thread, read
back with ``GET /v1/threads/{id}``, must hold the question *and* its answer: a turn cancelled
with the response leaves the question alone, or (as measured before the fix, the checkpoint
not yet written) no thread at all, and the question is lost.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.serving import arag_serve, copy_index

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

TESLA = "What year did Tesla die?"


def thread_messages(url: str, thread: str) -> list[dict]:
    """The stored messages; none when the thread does not exist (404)."""
    reply = httpx.get(f"{url}/v1/threads/{thread}", timeout=10)
    if reply.status_code == 404:
        return []
    assert reply.status_code == 200, reply.text
    return reply.json()["messages"]


def settled_roles(url: str, thread: str, within: float) -> list[str]:
    """The thread's roles once it holds a question and its answer, or after ``within`` s."""
    deadline = time.monotonic() + within
    roles: list[str] = []
    while time.monotonic() < deadline:
        roles = [m["role"] for m in thread_messages(url, thread)]
        if roles == ["user", "assistant"]:
            return roles
        time.sleep(0.3)
    return roles


@pytest.mark.parametrize(
    ("route", "body"),
    [
        (
            "/v1/chat/completions",
            {
                "model": "adaptive-rag",
                "stream": True,
                "messages": [{"role": "user", "content": TESLA}],
            },
        ),
        ("/v1/responses", {"model": "adaptive-rag", "stream": True, "input": TESLA}),
    ],
    ids=["chat-completions", "responses"],
)
def test_a_disconnected_stream_still_stores_the_answer(
    sample_data_dir, tmp_path, fault_ledger, route, body
):
    data = copy_index(sample_data_dir, tmp_path / "data")
    thread = f"gone-{uuid.uuid4().hex[:8]}"
    with FakeOpenAIServer() as llm:
        llm.script(Reply.slow(3.0, then=Reply.say("Nikola Tesla died in 1943.")))
        env = {
            "ARAG_MODEL": "openai:fake-model",
            "ARAG_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "sk-test",
        }
        with arag_serve(data, tmp_path, **env) as server:
            name = f"client disconnects mid-stream ({route})"
            with fault_ledger.fault("http", name) as f:
                if "messages" in body:
                    body = body | {"metadata": {"thread_id": thread}}
                first: dict = {}
                with httpx.Client(timeout=30) as client:
                    with client.stream("POST", server.url + route, json=body) as reply:
                        assert reply.status_code == 200
                        for line in reply.iter_lines():
                            if line.startswith("data:"):
                                first = json.loads(line.removeprefix("data:"))
                                break
                        # Hold on until the graph is waiting for the model, then go away.
                        deadline = time.monotonic() + 30
                        while not llm.chat_requests() and time.monotonic() < deadline:
                            time.sleep(0.05)
                    # Leaving both blocks closes the connection before the answer exists.
                f.observe("a first chunk arrived before the disconnect", bool(first), expected=True)
                f.observe(
                    "the model was answering when the client left",
                    len(llm.chat_requests()) == 1 and llm.pending() == 0,
                    expected=True,
                )
                thread = (first.get("response") or {}).get("thread_id") or thread
                roles = settled_roles(server.url, thread, within=30)
                f.observe("the thread's roles afterwards", roles, expected=["user", "assistant"])
                messages = thread_messages(server.url, thread)
                f.observe(
                    "the stored answer holds 1943",
                    bool(messages) and "1943" in messages[-1]["content"],
                    expected=True,
                )
            # The thread is free again: the next turn on it is answered (not 409 busy).
            follow = httpx.post(
                server.url + "/v1/chat/completions",
                json={
                    "model": "adaptive-rag",
                    "messages": [{"role": "user", "content": "Where was he born?"}],
                },
                headers={"X-Thread-Id": thread},
                timeout=60,
            )
            assert follow.status_code == 200, follow.text
            roles = [m["role"] for m in thread_messages(server.url, thread)]
            assert roles == ["user", "assistant"] * 2
