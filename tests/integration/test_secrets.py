"""Secrets never reach answers, graph state, logs, error messages or settings reprs.

The keys are the canaries of :mod:`tests.secrets_scan`, which also scans every test's captured
output and the run's log files (so the `arag serve` log below is checked twice).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from arag.server.checkpointers import describe
from arag.server.settings import ServerSettings
from graph.builder import build_graph
from graph.config import Context
from tests.fakes.openai_server import Reply
from tests.runs import invoke
from tests.secrets_scan import CANARIES, find_canaries
from tests.serving import arag_serve, copy_index
from tools.llm.chat_models import load_chat_model

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

DSN = f"postgresql://arag:{CANARIES['postgres_password']}@127.0.0.1:1/arag"


def test_graph_with_failing_provider_keeps_keys_out_of_answer_state_and_logs(
    clean_provider_env, canary_env, server, static_index, embeddings, caplog, fault_ledger
):
    caplog.set_level(logging.DEBUG)  # every library's debug logging included
    server.script(Reply.server_error(401), Reply.server_error(500), *[Reply.server_error(503)] * 10)
    model = load_chat_model("openai:fake-model", base_url=server.base_url, timeout=5, max_retries=0)
    saver = InMemorySaver()
    graph = build_graph(
        chat_model=model, index=static_index, embeddings=embeddings, checkpointer=saver
    )
    config = {"configurable": {"thread_id": "secret-scan"}}
    with fault_ledger.fault("secrets", "provider errors with canary keys set") as observed:
        result = invoke(
            graph,
            {"messages": [HumanMessage("What is the capital of France?")]},
            config,
            context=Context(),
        )
        # The key was really used on the wire...
        observed.observe(
            'server.requests[0].headers["authorization"] == f"Bearer {CANARIES[\'...',
            server.requests[0].headers["authorization"],
            expected=f"Bearer {CANARIES['ARAG_API_KEY']}",
        )
        # ...and the user still got a flagged, cited answer.
        observed.observe(
            '"llm_error" in result["flags"] and result["citations"]',
            bool("llm_error" in result["flags"] and result["citations"]),
            expected=True,
        )
        state = graph.get_state(config)
        checkpoints = [repr(c) for c in saver.list(config)]
        for where, text in [
            ("answer", result["messages"][-1].content),
            ("result", repr(result)),
            ("state", repr(state.values)),
            ("checkpoints", "".join(checkpoints)),
            ("logs", caplog.text),
            ("model repr", repr(model)),
        ]:
            observed.observe(str(where), find_canaries(text), expected=[])


def test_settings_reprs_and_descriptions_hide_keys_and_passwords(canary_env, fault_ledger):
    environ = {
        "ARAG_API_KEYS": f"alice:{CANARIES['server_key']}",
        "ARAG_POSTGRES_DSN": DSN,
    }
    settings = ServerSettings.from_env(environ)
    with fault_ledger.fault("secrets", "settings repr and DSN description") as observed:
        observed.observe(
            'settings.api_keys == {CANARIES["server_key"]: "alice"}',
            settings.api_keys,
            expected={CANARIES["server_key"]: "alice"},
        )  # loaded...
        for text in (repr(settings), str(settings), repr(Context()), describe(".arag", DSN)):
            observed.observe(str(text), find_canaries(text), expected=[])  # ...but never shown
        observed.observe(
            '"127.0.0.1" in describe(".arag", DSN)',
            bool("127.0.0.1" in describe(".arag", DSN)),
            expected=True,
        )


def test_arag_serve_log_has_no_keys(sample_data_dir, tmp_path, canary_env, fault_ledger):
    data = copy_index(sample_data_dir, tmp_path / "data")
    key = CANARIES["server_key"]
    with fault_ledger.fault(
        "secrets", "arag serve log with wrong, missing and valid keys"
    ) as observed:
        with arag_serve(
            data,
            tmp_path,
            ARAG_API_KEYS=f"alice:{key}",
            OPENAI_API_KEY=CANARIES["OPENAI_API_KEY"],
            ARAG_MODEL="offline",
        ) as proc:
            url = proc.url + "/v1/chat/completions"
            body = {"model": "adaptive-rag", "messages": [{"role": "user", "content": "Hi"}]}
            wrong = httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}x"})
            missing = httpx.post(url, json=body)
            ok = httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)
            observed.observe(
                "(wrong.status_code, missing.status_code, ok.status_code) == (401, 4...",
                (wrong.status_code, missing.status_code, ok.status_code),
                expected=(401, 401, 200),
            )
            for response in (wrong, missing, ok):
                observed.observe(
                    "find_canaries(response.text) == []", find_canaries(response.text), expected=[]
                )
        log = proc.log()
        observed.observe(
            '"401" in log or "auth" in log.lower()',
            bool("401" in log or "auth" in log.lower()),
            expected=True,
        )  # the server did log the refusals
        observed.observe("find_canaries(log) == []", find_canaries(log), expected=[])


LEAKY_TESTS = """
import logging

from tests.secrets_scan import CANARIES


def test_prints_a_key():
    print("using key", CANARIES["OPENAI_API_KEY"])


def test_logs_a_dsn():
    logging.getLogger("db").warning("connecting to %s", "x:%s@db" % CANARIES["postgres_password"])


def test_writes_a_log_file(tmp_path):
    (tmp_path / "server.log").write_text("Authorization: Bearer " + CANARIES["server_key"])


def test_clean():
    print("nothing to see")
"""


def _run_leaky(root: Path, folder: Path, base: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.secrets_scan",
            "--rootdir",
            str(folder),
            "-c",
            "/dev/null",
            "--basetemp",
            str(base),
            str(folder / "test_leaky.py"),
        ],
        capture_output=True,
        text=True,
        cwd=folder,
        env={"PYTHONPATH": str(root)},
        timeout=120,
    )


def test_the_scanner_fails_a_run_that_leaks(tmp_path):
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "test_leaky.py").write_text(LEAKY_TESTS)
    # Its temp dir lies outside ours, or this session's own log scan would find the leak.
    with tempfile.TemporaryDirectory() as base:
        run = _run_leaky(root, tmp_path, Path(base) / "t")
    out = run.stdout
    assert "4 passed" in out and run.returncode == 1, out[-2000:]
    assert "test_prints_a_key (call): OPENAI_API_KEY in Captured stdout call" in out
    assert "test_logs_a_dsn (call): postgres_password in Captured log call" in out
    assert "server.log: server_key" in out
    assert "test_clean" not in out.split("SECRET LEAKS")[1]
    assert find_canaries(out + run.stderr) == []  # names are reported, values never
