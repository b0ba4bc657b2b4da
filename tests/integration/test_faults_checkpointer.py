"""SIGKILL ``arag serve`` in the middle of a run: no earlier turn is lost and the thread goes on.

A local LLM stand-in holds the second turn's first model call for a minute, so the run is
certainly in flight when the server is killed. The restarted server must still hold the first
turn word for word, and answer the next message on the same thread. Both thread stores: SQLite
in the data directory and PostgreSQL (skipped with a reason when PostgreSQL is not reachable).
"""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager, nullcontext

import httpx
import openai
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.serving import arag_serve, copy_index, scratch_postgres

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

TESLA = "What year did Tesla die?"
FOLLOW_UP = "Who did he partner with in 1886?"


def ask(url: str, question: str, thread: str) -> str:
    llm = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=90)
    reply = llm.chat.completions.create(
        model="adaptive-rag",
        messages=[{"role": "user", "content": question}],
        extra_headers={"X-Thread-Id": thread},
    )
    return reply.choices[0].message.content


def stored(url: str, thread: str) -> list[dict]:
    reply = httpx.get(f"{url}/v1/threads/{thread}", headers={"Authorization": "Bearer unused"})
    assert reply.status_code == 200, reply.text
    return reply.json()["messages"]


@contextmanager
def thread_store(backend: str):
    """Server environment for the thread store under test."""
    if backend == "sqlite":
        with nullcontext():
            yield {}
    else:
        with scratch_postgres() as dsn:
            yield {"ARAG_POSTGRES_DSN": dsn}


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the run to reach the model")
        time.sleep(0.05)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_mid_run_keeps_earlier_turns_and_the_thread_continues(
    backend, sample_data_dir, tmp_path, fault_ledger
):
    data = copy_index(sample_data_dir, tmp_path / "data")
    thread = f"t-{uuid.uuid4().hex[:8]}"
    with FakeOpenAIServer() as llm, thread_store(backend) as env:
        # Unscripted model calls get a 400 and every step falls back to its offline method, so
        # turns complete quickly; only the scripted slow reply keeps a run in flight.
        env |= {"ARAG_MODEL": "openai:fake-model", "ARAG_BASE_URL": llm.base_url}
        with fault_ledger.fault("checkpointer", f"SIGKILL mid-run ({backend})") as fault:
            with arag_serve(data, tmp_path, **env) as first:
                fault.observe(
                    '"1943" in ask(first.url, TESLA, thread)',
                    bool("1943" in ask(first.url, TESLA, thread)),
                    expected=True,
                )
                before = stored(first.url, thread)
                fault.observe(
                    '[m["role"] for m in before] == ["user", "assistant"]',
                    [m["role"] for m in before],
                    expected=["user", "assistant"],
                )

                llm.script(Reply.slow(60))
                sent = len(llm.chat_requests())
                errors: list[BaseException] = []

                def in_flight() -> None:
                    try:
                        ask(first.url, FOLLOW_UP, thread)
                    except Exception as exc:  # noqa: BLE001 - the kill must break this call
                        errors.append(exc)

                client = threading.Thread(target=in_flight, daemon=True)
                client.start()
                wait_for(lambda: len(llm.chat_requests()) > sent)  # the model call hangs now
                first.proc.kill()
                first.proc.wait(timeout=10)
                client.join(timeout=30)
                fault.observe(
                    "the request in flight should have failed with the server",
                    bool(errors),
                    expected=True,
                )

            with arag_serve(data, tmp_path, **env) as second:
                kept = stored(second.url, thread)
                fault.lost = sum(1 for m in before if m not in kept)
                fault.observe(
                    "kept[:2] == before", kept[:2], expected=before
                )  # the earlier turn, word for word
                answer = ask(second.url, FOLLOW_UP, thread)
                fault.observe(
                    '"Robert Lane" in answer', bool("Robert Lane" in answer), expected=True
                )
                after = stored(second.url, thread)
                fault.observe("after[:2] == before", after[:2], expected=before)
                last = [(m["role"], m["content"]) for m in after[-2:]]
                fault.observe(
                    'last == [("user", FOLLOW_UP), ("assistant", answer)]',
                    last,
                    expected=[("user", FOLLOW_UP), ("assistant", answer)],
                )
                fault.observe("fault.lost == 0", fault.lost, expected=0)
