"""Thread storage is bounded: old checkpoints are pruned after each turn, and threads per key
have a quota with a clear error. Nothing a client can read is lost.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from fastapi.testclient import TestClient

from arag.server.app import local_app
from arag.server.checkpointers import SQLITE_FILE
from arag.server.settings import ServerSettings, SettingsError
from graph.config import Context
from tests.serving import copy_index

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

KEY = "alice-key-0123456789abcdef"
QUESTIONS = ["What year did Tesla die?", "Who did he partner with in 1886?"]


def checkpoints(data_dir, thread: str) -> int:
    with closing(sqlite3.connect(data_dir / SQLITE_FILE)) as db:
        return db.execute(
            "SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?", (thread,)
        ).fetchone()[0]


def turn(client: TestClient, thread: str, question: str):
    return client.post(
        "/v1/chat/completions",
        json={"model": "adaptive-rag", "messages": [{"role": "user", "content": question}]},
        headers={"Authorization": f"Bearer {KEY}", "X-Thread-Id": thread},
    )


@pytest.fixture
def data_dir(sample_data_dir, tmp_path):
    return copy_index(sample_data_dir, tmp_path / "data")


def serve(data_dir, **settings) -> TestClient:
    app = local_app(
        ServerSettings(api_keys={KEY: "alice"}, **settings),
        Context(data_dir=str(data_dir), model="offline"),
    )
    return TestClient(app)


@pytest.mark.parametrize(("kept", "expected"), [(1, 1), (3, 3), (0, None)])
def test_a_thread_keeps_only_its_newest_checkpoints_and_all_its_messages(
    data_dir, fault_ledger, kept, expected
):
    turns = 8
    with serve(data_dir, checkpoints_kept=kept) as client:
        for n in range(turns):
            assert turn(client, "t-long", QUESTIONS[n % 2]).status_code == 200
        stored = client.get("/v1/threads/t-long", headers={"Authorization": f"Bearer {KEY}"})
    roles = [m["role"] for m in stored.json()["messages"]]
    if expected is None:  # 0: all kept, as before (several per turn)
        assert checkpoints(data_dir, "t-long") > 3 * turns
        return
    with fault_ledger.fault("checkpointer", f"{turns} turns on one thread (keep {kept})") as f:
        f.observe("checkpoints stored", checkpoints(data_dir, "t-long"), expected=expected)
        f.observe("messages readable", roles, expected=["user", "assistant"] * turns)
        # The follow-up still resolves against the history the newest checkpoint holds.
        last = stored.json()["messages"][-1]["content"]
        f.observe("follow-up answered from history", "Robert Lane" in last, expected=True)


def test_past_the_thread_quota_a_new_thread_is_refused_with_a_clear_error(data_dir, fault_ledger):
    with (
        serve(data_dir, max_threads_per_key=2) as client,
        fault_ledger.fault("checkpointer", "new thread past ARAG_MAX_THREADS_PER_KEY") as f,
    ):
        for thread in ("q1", "q2"):
            assert turn(client, thread, QUESTIONS[0]).status_code == 200
        refused = turn(client, "q3", QUESTIONS[0])
        error = refused.json()["error"]
        f.observe("status", refused.status_code, expected=429)
        f.observe("code", error["code"], expected="thread_quota_exceeded")
        f.observe(
            "names the setting", "ARAG_MAX_THREADS_PER_KEY" in error["message"], expected=True
        )
        f.observe(
            "existing thread continues", turn(client, "q1", QUESTIONS[1]).status_code, expected=200
        )
        f.observe("nothing stored for the refused thread", checkpoints(data_dir, "q3"), expected=0)


def test_retention_settings_are_checked():
    settings = ServerSettings.from_env(
        {"ARAG_CHECKPOINTS_KEPT": "2", "ARAG_MAX_THREADS_PER_KEY": "0"}
    )
    assert (settings.checkpoints_kept, settings.max_threads_per_key) == (2, 0)
    with pytest.raises(SettingsError, match="ARAG_CHECKPOINTS_KEPT must be a whole number"):
        ServerSettings.from_env({"ARAG_CHECKPOINTS_KEPT": "-1"})
