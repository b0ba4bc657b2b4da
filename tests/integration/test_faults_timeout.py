"""A turn cut by the request timeout leaves its thread as it was before the turn.

A real ``arag serve`` with a 5 s request timeout, over a fake OpenAI endpoint whose answer
takes 12 s (after a first, answered turn has warmed the server up). The client gets a 504 (a
JSON error, or an error chunk when streaming); the thread, read back with
``GET /v1/threads/{id}``, must not keep the question without its answer (measured before the
fix: ``user, assistant, user``), and a new thread cut this way must not exist at all. The next
turn on the thread is then answered as usual. The rollback itself is checked on both thread
stores, SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import httpx
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.serving import arag_serve, copy_index, langgraph_dev, scratch_postgres

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

TESLA = "What year did Tesla die?"
ANSWER = "Nikola Tesla died in 1943."


def roles(url: str, thread: str) -> list[str] | None:
    """The stored roles, or None when the thread does not exist (404)."""
    reply = httpx.get(f"{url}/v1/threads/{thread}", timeout=10)
    if reply.status_code == 404:
        return None
    assert reply.status_code == 200, reply.text
    return [m["role"] for m in reply.json()["messages"]]


def ask(url: str, thread: str, *, stream: bool) -> tuple[int, str]:
    """(status, error code or answer text) of one threaded turn."""
    body = {
        "model": "adaptive-rag",
        "stream": stream,
        "messages": [{"role": "user", "content": TESLA}],
        "metadata": {"thread_id": thread},
    }
    reply = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)
    if not stream:
        data = reply.json()
        if reply.status_code != 200:
            return reply.status_code, data["error"]["code"]
        return 200, data["choices"][0]["message"]["content"]
    text = ""
    for line in reply.text.splitlines():
        payload = line.removeprefix("data:").strip()
        if not line.startswith("data:") or payload == "[DONE]":
            continue
        chunk = json.loads(payload)
        if "error" in chunk:
            return 504, chunk["error"]["code"]
        for choice in chunk.get("choices") or []:
            text += choice["delta"].get("content") or ""
    return reply.status_code, text


def slow_model_env(llm: FakeOpenAIServer) -> dict[str, str]:
    """A server on the fake model, with a 5 s request timeout."""
    return {
        "ARAG_MODEL": "openai:fake-model",
        "ARAG_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "sk-test",
        "ARAG_SERVE_TIMEOUT": "5",
    }


def warm(url: str, attempts: int = 4) -> None:
    """Stateless turns until one is answered within the timeout: the first run on a fresh
    server loads the graph and the index, which can take longer than the 5 s under test. The
    fake model has nothing scripted, so these turns take the offline fallback.
    """  # noqa: D205
    body = {"model": "adaptive-rag", "messages": [{"role": "user", "content": TESLA}]}
    for _ in range(attempts):
        if httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60).status_code == 200:
            return
    pytest.fail(f"no turn was answered within the timeout in {attempts} attempts")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_timed_out_turn_is_rolled_back(sample_data_dir, tmp_path, fault_ledger, stream):
    data = copy_index(sample_data_dir, tmp_path / "data")
    kept, fresh = f"kept-{uuid.uuid4().hex[:8]}", f"fresh-{uuid.uuid4().hex[:8]}"
    with FakeOpenAIServer() as llm:
        env = slow_model_env(llm)
        with arag_serve(data, tmp_path, **env) as server:
            llm.script(Reply.say(ANSWER))
            status, answer = ask(server.url, kept, stream=False)
            assert status == 200 and "1943" in answer, answer
            mode = "streamed" if stream else "JSON"
            with fault_ledger.fault("http", f"turn cut by the request timeout ({mode})") as f:
                llm.script(Reply.slow(12.0, then=Reply.say(ANSWER)))
                f.observe(
                    "the client's reply",
                    ask(server.url, kept, stream=stream),
                    expected=(504, "timeout"),
                )
                f.observe(
                    "the earlier thread's roles",
                    roles(server.url, kept),
                    expected=["user", "assistant"],
                )
                llm.script(Reply.slow(12.0, then=Reply.say(ANSWER)))
                f.observe(
                    "a new thread's reply",
                    ask(server.url, fresh, stream=stream),
                    expected=(504, "timeout"),
                )
                f.observe(
                    "the new thread exists", roles(server.url, fresh) is not None, expected=False
                )
            # Nothing is left half-done: the next turn on the thread is answered and stored.
            llm.script(Reply.say(ANSWER))
            status, answer = ask(server.url, kept, stream=False)
            assert status == 200 and "1943" in answer, answer
            assert roles(server.url, kept) == ["user", "assistant"] * 2


async def _cut_turn(runner, thread: str) -> None:
    """A turn on ``thread`` cancelled after its first step, as the request timeout cuts it."""
    from arag.turn import Step

    started = asyncio.Event()

    async def consume() -> None:
        async for event in runner.run([{"role": "user", "content": TESLA}], thread, "me"):
            if isinstance(event, Step):
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 60)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _answered(runner, thread: str) -> None:
    async for _ in runner.run([{"role": "user", "content": TESLA}], thread, "me"):
        pass


async def _unreferenced_blobs(saver) -> int:
    """PostgreSQL channel blobs that no remaining checkpoint refers to."""
    async with saver._cursor() as cur:
        await cur.execute(
            "SELECT COUNT(*) AS n FROM checkpoint_blobs b WHERE NOT EXISTS ("
            "SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id "
            "AND c.checkpoint_ns = b.checkpoint_ns "
            "AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)"
        )
        return (await cur.fetchone())["n"]


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_rolling_back_leaves_the_store_as_before_the_turn(sample_data_dir, tmp_path, store):
    """On both thread stores: the undone turn's checkpoints (and PostgreSQL blobs) are gone."""
    from arag.server.checkpointers import open_checkpointer
    from arag.server.runner import LocalRunner
    from graph.config import Context

    data = copy_index(sample_data_dir, tmp_path / "data")

    async def checkpoint_ids(saver, thread: str) -> list[str]:
        listed = saver.alist({"configurable": {"thread_id": thread}})
        return [c.config["configurable"]["checkpoint_id"] async for c in listed]

    async def scenario(dsn: str) -> dict:
        async with open_checkpointer(str(data), dsn) as saver:
            runner = LocalRunner(saver, Context(data_dir=str(data), model="offline"))
            await _cut_turn(runner, "new")
            await _answered(runner, "kept")
            before = await checkpoint_ids(saver, "kept")
            await _cut_turn(runner, "kept")
            return {
                "new thread": await checkpoint_ids(saver, "new"),
                "same checkpoints": await checkpoint_ids(saver, "kept") == before,
                "roles": [m["role"] for m in await runner.messages("kept")],
                "stray blobs": await _unreferenced_blobs(saver) if dsn else 0,
            }

    expected = {
        "new thread": [],
        "same checkpoints": True,
        "roles": ["user", "assistant"],
        "stray blobs": 0,
    }
    if store == "sqlite":
        assert asyncio.run(scenario("")) == expected
        return
    with scratch_postgres() as dsn:
        assert asyncio.run(scenario(dsn)) == expected


def test_a_timed_out_turn_on_the_langgraph_server_is_rolled_back(
    sample_data_dir, tmp_path, fault_ledger
):
    """The same cut under ``langgraph dev``: the run is cancelled with ``action="rollback"``."""
    thread = f"lg-{uuid.uuid4().hex[:8]}"
    with FakeOpenAIServer() as llm:
        env = slow_model_env(llm)
        with langgraph_dev(sample_data_dir, tmp_path, **env) as server:
            warm(server.url)
            llm.script(Reply.say(ANSWER))
            status, answer = ask(server.url, thread, stream=False)
            assert status == 200 and "1943" in answer, answer
            with fault_ledger.fault("http", "turn cut by the request timeout (LangGraph API)") as f:
                llm.script(Reply.slow(12.0, then=Reply.say(ANSWER)))
                f.observe(
                    "the client's reply",
                    ask(server.url, thread, stream=False),
                    expected=(504, "timeout"),
                )
                f.observe(
                    "the thread's roles", roles(server.url, thread), expected=["user", "assistant"]
                )
