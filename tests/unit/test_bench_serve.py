"""`make bench-serve` in miniature: the load driver on the /v1 app, the report, the JSON line."""

from __future__ import annotations

import json
import os
from contextlib import asynccontextmanager

import httpx
import pytest

from arag.server.app import create_app
from arag.server.errors import ApiError
from arag.server.runner import Final, Step
from arag.server.settings import ServerSettings
from benchmarks.serve import __main__ as bench
from benchmarks.serve import load, report


class FlakyRunner:
    """Answers every question but ``boom``, which fails as a graph bug would (HTTP 500)."""

    def thread_id(self, requested):
        return requested

    async def owner_of(self, thread_id):
        return None

    async def workspace_of(self, thread_id):
        return "default"

    async def run(self, messages, thread_id, owner, context=None):
        if messages[-1]["content"] == "boom":
            raise ApiError(500, "The graph failed.", "server_error", "run_error")
        yield Step({"node": "retrieve_documents", "decision": "1 document", "reason": "r"})
        yield Final(content="Tesla died in 1943.", answer="Tesla died in 1943.")

    async def messages(self, thread_id):
        return []

    async def ready(self):
        return {"index": None, "threads": None}

    async def warm(self):
        return None

    async def index_chunks(self):
        return 12

    async def threads_of(self, owner):
        return 0


@asynccontextmanager
async def v1_client():
    @asynccontextmanager
    async def open_runner():
        yield FlakyRunner()

    app = create_app(ServerSettings(), open_runner)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


@pytest.mark.parametrize("stream", [False, True])
async def test_two_clients_count_answers_and_errors(stream):
    async with v1_client() as client:
        send = load.chat_completions(client, ["What year did Tesla die?", "boom"], stream=stream)
        row = await load.run_level(send, 2, min_requests=6, min_seconds=0)
    assert row["concurrency"] == 2
    assert row["requests"] == 6
    # Requests alternate between the two questions: every second one fails.
    assert (row["ok"], row["errors"]) == (3, 3)
    kind = "stream without an answer" if stream else "HTTP 500"
    assert row["error_kinds"] == {kind: 3}
    assert row["p50_ms"] <= row["p99_ms"]
    assert row["req_per_s"] > 0
    assert row["peak_rss_mb"] > 0


def _row(clients: int, p50: float, p99: float, errors: int = 0) -> dict:
    return {
        "concurrency": clients,
        "requests": 10,
        "ok": 10 - errors,
        "errors": errors,
        "error_kinds": {"HTTP 503": errors} if errors else {},
        "seconds": 1.0,
        "req_per_s": 10.0,
        "p50_ms": p50,
        "p99_ms": p99,
        "mean_ms": p50,
        "peak_rss_mb": 300.0,
        "cpu_ms_per_request": 15.0,
        "load": 1.0,
    }


def test_targets_fail_on_errors_at_128_and_a_slow_p99_at_32():
    hosts = {
        report.SERVER: [_row(1, 20, 30), _row(32, 500, 900), _row(128, 2000, 3000, errors=2)],
        report.IN_PROCESS: [_row(1, 16, 25), _row(32, 480, 850), _row(128, 1900, 2800)],
    }
    verdicts = {t["target"]: t for t in report.targets(hosts)}
    no_errors = verdicts["arag serve: no errors at 128 concurrent clients"]
    p99 = verdicts["arag serve: p99 at 32 clients ≤ 2× the single-client p50"]
    assert (no_errors["pass"], no_errors["value"]) == (False, 2)
    assert (p99["pass"], p99["value"]) == (False, 45.0)
    ratios = {(o["host"], o["concurrency"]): o for o in report.overhead(hosts)}
    assert ratios[("arag serve", 1)]["p50_ratio"] == 1.25

    hosts[report.SERVER] = [_row(1, 20, 30), _row(32, 30, 39), _row(128, 60, 80)]
    assert all(t["pass"] for t in report.targets(hosts))


def test_main_writes_the_report_and_ends_with_one_json_line(tmp_path, monkeypatch, capsys):
    async def measured(data_dir, log_dir, args, log):
        assert not log_dir.is_relative_to(bench.ROOT)  # langgraph dev would reload on its log
        return {
            report.SERVER: [_row(c, 20, 50) for c in args.levels],
            report.IN_PROCESS: [_row(c, 15, 30) for c in args.levels],
        }

    monkeypatch.setattr(bench, "_ingest", lambda data_dir: None)
    monkeypatch.setattr(bench, "measure", measured)
    assert bench.main(["--levels", "1,32,128", "--out", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(last)
    assert summary["bench"] == "serve"
    assert (summary["passed"], summary["failed"]) == (1, 1)  # no errors; p99 2× fails
    assert summary["hosts"]["arag serve"]["32"] == [10.0, 20, 50, 0]
    saved = json.loads((tmp_path / "serve.json").read_text())
    assert saved["serve"]["targets"][1]["pass"] is False
    assert "FAIL: arag serve: p99 at 32 clients" in (tmp_path / "serve.md").read_text()
    assert (tmp_path / "serve_load.png").stat().st_size > 1000


def test_targets_are_judged_per_row_and_the_llm_row_against_its_own_in_process_run():
    llm_server = report.with_llm(report.SERVER, 300)
    llm_local = report.with_llm(report.IN_PROCESS, 300)
    llm_pair = report.with_llm(report.REPLICAS, 300)
    assert llm_server == "arag serve, simulated LLM (300 ms/call)"
    hosts = {
        report.SERVER: [_row(1, 20, 30), _row(32, 500, 900), _row(128, 2000, 3000)],
        report.IN_PROCESS: [_row(1, 16, 25), _row(32, 480, 850), _row(128, 1900, 2800)],
        llm_server: [_row(1, 1000, 1200), _row(32, 1100, 1700), _row(128, 2500, 4000)],
        llm_pair: [_row(1, 1000, 1200), _row(32, 1300, 2100), _row(128, 2000, 3000)],
        llm_local: [_row(1, 950, 1100), _row(32, 1000, 1500), _row(128, 2400, 3900)],
    }
    verdicts = {t["target"]: t["pass"] for t in report.targets(hosts)}
    assert verdicts == {
        "arag serve: no errors at 128 concurrent clients": True,
        "arag serve: p99 at 32 clients ≤ 2× the single-client p50": False,
        f"{llm_server}: no errors at 128 concurrent clients": True,
        f"{llm_server}: p99 at 32 clients ≤ 2× the single-client p50": True,
        f"{llm_pair}: no errors at 128 concurrent clients": True,
        f"{llm_pair}: p99 at 32 clients ≤ 2× the single-client p50": False,  # 2100 > 2 × 1000
    }
    ratios = {(o["host"], o["concurrency"]): o for o in report.overhead(hosts)}
    assert ratios[(llm_server, 1)]["baseline"] == llm_local
    assert ratios[(llm_pair, 32)]["baseline"] == llm_local
    assert ratios[(llm_server, 1)]["p50_added_ms"] == 50.0
    assert ratios[(report.SERVER, 1)]["p50_added_ms"] == 4.0
    assert not any(host.startswith(report.IN_PROCESS) for host, _ in ratios)


def test_the_report_labels_both_verdicts_and_shows_llm_calls(tmp_path, monkeypatch):
    llm_server = report.with_llm(report.SERVER, 300)

    def llm_row(clients: int, p50: float, p99: float) -> dict:
        return _row(clients, p50, p99) | {"llm_calls_per_request": 3.4, "llm_peak_in_flight": 40}

    async def measured(data_dir, log_dir, args, log):
        return {
            report.SERVER: [_row(c, 20, 50) for c in args.levels],
            llm_server: [llm_row(c, 1000, 1500) for c in args.levels],
        }

    monkeypatch.setattr(bench, "_ingest", lambda data_dir: None)
    monkeypatch.setattr(bench, "measure", measured)
    assert bench.main(["--levels", "1,32,128", "--out", str(tmp_path)]) == 0
    md = (tmp_path / "serve.md").read_text()
    assert "FAIL: arag serve: p99 at 32 clients ≤ 2×" in md
    assert f"PASS: {llm_server}: p99 at 32 clients ≤ 2×" in md
    assert "300 ms per call + 5 ms per 100 output tokens" in md
    assert "| 3.4 | 40 |" in md  # LLM calls per request, peak in flight
    assert "3.4 LLM calls per request" in md  # the note on where the time goes


def test_the_load_client_cpu_leaves_out_the_processes_it_started():
    # The benchmark starts the servers and the LLM stub, so they are its children: a busy
    # child shows in a sample of the process tree, and not in the load client's own figure.
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # the child is up and spinning
        tree = load.ProcessSampler([os.getpid()], sample_rss=False)
        alone = load.ProcessSampler([os.getpid()], sample_rss=False, children=False)
        time.sleep(0.8)  # this process sleeps; the child burns about 0.8 s of CPU
        tree_cpu, alone_cpu = tree.stop()[1], alone.stop()[1]
    finally:
        child.kill()
        child.wait(timeout=30)
    assert tree_cpu >= 0.4
    assert alone_cpu < 0.2
