"""Durable threads and process life: restart, two processes over PostgreSQL, SIGTERM, binding."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid

import httpx
import openai
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.serving import ROOT, arag_serve, arag_servers, copy_index, scratch_postgres, server_env

pytestmark = pytest.mark.integration

KEY = "alice-key-0123456789abcdef"
TESLA = "What year did Tesla die?"
FOLLOW_UP = "Who did he partner with in 1886?"


def ask(url: str, question: str, thread: str, key: str = "unused"):
    llm = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60)
    return llm.chat.completions.create(
        model="adaptive-rag",
        messages=[{"role": "user", "content": question}],
        extra_headers={"X-Thread-Id": thread},
    )


def stored_roles(url: str, thread: str, key: str = "unused") -> list[str]:
    reply = httpx.get(f"{url}/v1/threads/{thread}", headers={"Authorization": f"Bearer {key}"})
    assert reply.status_code == 200, reply.text
    return [m["role"] for m in reply.json()["messages"]]


def test_sqlite_thread_survives_a_restart(sample_data_dir, tmp_path):
    data = copy_index(sample_data_dir, tmp_path / "data")
    thread = f"t-{uuid.uuid4().hex[:8]}"
    with arag_serve(data, tmp_path) as first:
        assert "1943" in ask(first.url, TESLA, thread).choices[0].message.content
        assert "listening on 127.0.0.1 only" in first.log()  # no keys configured
        assert f"threads: sqlite {data}/threads.sqlite" in first.log()
    # uvicorn re-raises the SIGTERM it handled once shut down, hence -15 rather than 0.
    assert first.proc.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in first.log()
    with arag_serve(data, tmp_path) as second:
        answer = ask(second.url, FOLLOW_UP, thread)
        assert "Robert Lane" in answer.choices[0].message.content
        assert answer.model_extra["path"][0]["decision"] == "offline_context"
        assert stored_roles(second.url, thread) == ["user", "assistant"] * 2


def test_two_processes_share_threads_through_postgres(sample_data_dir, tmp_path):
    data = copy_index(sample_data_dir, tmp_path / "data")
    thread = f"t-{uuid.uuid4().hex[:8]}"
    env = {"ARAG_API_KEYS": f"alice:{KEY}"}
    with scratch_postgres() as dsn:
        env["ARAG_POSTGRES_DSN"] = dsn
        with arag_servers(2, data, tmp_path, **env) as (a, b):
            assert "threads: postgres postgres@127.0.0.1:5432/arag_test_" in a.log()
            assert "1943" in ask(a.url, TESLA, thread, KEY).choices[0].message.content
            # The second process continues the conversation the first one stored.
            answer = ask(b.url, FOLLOW_UP, thread, KEY)
            assert "Robert Lane" in answer.choices[0].message.content
            assert answer.model_extra["path"][0]["decision"] == "offline_context"
            assert stored_roles(a.url, thread, KEY) == ["user", "assistant"] * 2


def test_sigterm_lets_the_request_in_flight_finish(sample_data_dir, tmp_path):
    data = copy_index(sample_data_dir, tmp_path / "data")
    with FakeOpenAIServer() as llm:
        # The first LLM call takes 3 s; later calls find no scripted reply and the graph falls
        # back to its extractive answer, so the request completes either way.
        llm.script(Reply.slow(3.0, then=Reply.say("1943")))
        env = {
            "ARAG_MODEL": "openai:fake-model",
            "ARAG_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "sk-test",
        }
        with arag_serve(data, tmp_path, **env) as server:
            result: dict = {}

            def call() -> None:
                try:
                    result["answer"] = ask(server.url, TESLA, "inflight")
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    result["error"] = exc

            caller = threading.Thread(target=call)
            caller.start()
            deadline = time.monotonic() + 30
            while not llm.requests and time.monotonic() < deadline:
                time.sleep(0.05)
            assert llm.requests, "the request never reached the model"
            server.proc.terminate()  # SIGTERM while the answer is being written
            caller.join(timeout=60)
            assert "error" not in result, result.get("error")
            assert result["answer"].choices[0].message.content
            assert server.proc.wait(timeout=30) in (0, -signal.SIGTERM)
            assert "Application shutdown complete" in server.log()
            with pytest.raises(httpx.ConnectError):
                httpx.get(server.url + "/healthz")


def test_refuses_a_public_interface_without_keys(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "arag.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        env=server_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in done.stderr
    assert "ARAG_API_KEYS=name:key" in done.stderr
