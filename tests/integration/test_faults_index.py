"""Index unavailable or damaged: the graph answers on a flagged route, CLI and server say the fix.

Faults: the data directory is missing; permission is denied (tests run as root, which ignores
file modes, and the venv is not readable by an unprivileged user, so PermissionError is injected
by patching ``Path.read_text`` for the index metadata, the first file an open reads); the chunk
data files are truncated or deleted after ingest; Weaviate refuses the connection.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from langchain_core.messages import HumanMessage
from typer.testing import CliRunner

from arag.cli import app as cli_app
from arag.server.app import local_app
from arag.server.openai_api import MODEL_ID
from arag.server.settings import ServerSettings
from graph.builder import build_graph
from graph.config import Context
from tests.fakes.openai_server import Reply
from tests.runs import invoke
from tests.serving import free_port

Q = "When did Nikola Tesla die?"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.reliability,
    pytest.mark.usefixtures("clean_provider_env"),
]


def ask(ctx: Context, embeddings) -> dict:
    graph = build_graph(embeddings=embeddings)
    return invoke(graph, {"messages": [HumanMessage(Q)]}, context=ctx)


def text(result: dict) -> str:
    return result["messages"][-1].content


@pytest.fixture
def damaged(sample_data_dir, tmp_path, request) -> Path:
    """A copy of the sample index whose chunk data files are truncated (or deleted)."""
    data_dir = tmp_path / "index"
    shutil.copytree(sample_data_dir, data_dir, ignore=shutil.ignore_patterns("threads.sqlite*"))
    files = list((data_dir / "lancedb" / "chunks.lance" / "data").glob("*.lance"))
    assert files
    for f in files:
        if request.param == "truncated":
            with open(f, "r+b") as fh:
                fh.truncate(100)
        else:
            f.unlink()
    return data_dir


@pytest.fixture
def permission_denied(monkeypatch):
    """Reading the index metadata raises PermissionError, as a chmod 000 file does for a user."""
    read_text = Path.read_text

    def denied(self, *args, **kwargs):
        if self.name == "index_meta.json":
            raise PermissionError(13, "Permission denied", str(self))
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", denied)


def test_missing_data_dir_offline_is_a_clear_error_route(tmp_path, embeddings, fault_ledger):
    with fault_ledger.fault("index", "data directory missing") as observed:
        missing = tmp_path / "nowhere"
        result = ask(Context(model="offline", data_dir=str(missing)), embeddings)
        observed.observe(
            'result["route"] == "error" and "index_unavailable" in result["flags"]',
            bool(result["route"] == "error" and "index_unavailable" in result["flags"]),
            expected=True,
        )
        observed.observe(
            'f"No index at {missing}. Run `arag ingest PATH` first." in text(res...',
            bool(f"No index at {missing}. Run `arag ingest PATH` first." in text(result)),
            expected=True,
        )
        observed.observe(
            "not missing.exists()", bool(not missing.exists()), expected=True
        )  # asking never creates an empty index


def test_missing_data_dir_with_a_model_answers_closed_book_with_a_warning(
    tmp_path, embeddings, server, fault_ledger
):
    with fault_ledger.fault("index", "data directory missing (LLM configured)") as observed:
        server.script(Reply.say("Nikola Tesla died in 1943.", logprob=-0.05))
        ctx = Context(model="openai:m", base_url=server.base_url, data_dir=str(tmp_path / "x"))
        result = ask(ctx, embeddings)
        observed.observe(
            'result["route"] == "closed_book" and "index_unavailable" in result[...',
            bool(result["route"] == "closed_book" and "index_unavailable" in result["flags"]),
            expected=True,
        )
        observed.observe(
            'result["answer"] == "Nikola Tesla died in 1943."',
            result["answer"],
            expected="Nikola Tesla died in 1943.",
        )
        observed.observe(
            '"the document index is unavailable (No index at" in text(result)',
            bool("the document index is unavailable (No index at" in text(result)),
            expected=True,
        )


def test_permission_denied_says_which_file_and_what_to_do(
    sample_data_dir, embeddings, permission_denied, fault_ledger
):
    with fault_ledger.fault("index", "permission denied") as observed:
        result = ask(Context(model="offline", data_dir=str(sample_data_dir)), embeddings)
        observed.observe(
            'result["route"] == "error" and "index_unavailable" in result["flags"]',
            bool(result["route"] == "error" and "index_unavailable" in result["flags"]),
            expected=True,
        )
        observed.observe(
            '"index_meta.json: permission denied. Fix the file permissions" in t...',
            bool("index_meta.json: permission denied. Fix the file permissions" in text(result)),
            expected=True,
        )


@pytest.mark.parametrize("damaged", ["truncated", "deleted"], indirect=True)
def test_damaged_data_files_give_an_error_route_not_a_traceback(
    damaged, embeddings, fault_ledger, request
):
    kind = request.node.callspec.params["damaged"]
    with fault_ledger.fault("index", f"chunk data files {kind}") as observed:
        result = ask(Context(model="offline", data_dir=str(damaged)), embeddings)
        observed.observe(
            'result["route"] == "error" and "index_unavailable" in result["flags"]',
            bool(result["route"] == "error" and "index_unavailable" in result["flags"]),
            expected=True,
        )
        observed.observe(
            'f"The index at {damaged} is damaged" in text(result)',
            bool(f"The index at {damaged} is damaged" in text(result)),
            expected=True,
        )
        observed.observe(
            '"run `arag ingest PATH` again" in text(result)',
            bool("run `arag ingest PATH` again" in text(result)),
            expected=True,
        )


@pytest.mark.parametrize("damaged", ["truncated"], indirect=True)
def test_damaged_index_with_a_model_answers_closed_book_with_a_warning(
    damaged, embeddings, server, fault_ledger
):
    with fault_ledger.fault("index", "chunk data files truncated (LLM configured)") as observed:
        server.script(Reply.say("Nikola Tesla died in 1943.", logprob=-0.05))
        ctx = Context(model="openai:m", base_url=server.base_url, data_dir=str(damaged))
        result = ask(ctx, embeddings)
        observed.observe(
            'result["route"] == "closed_book"', result["route"], expected="closed_book"
        )
        observed.observe(
            '"the document index is unavailable (The index at" in text(result)',
            bool("the document index is unavailable (The index at" in text(result)),
            expected=True,
        )


def test_weaviate_connection_refused_is_an_error_route_with_the_fix(embeddings, fault_ledger):
    with fault_ledger.fault("index", "Weaviate connection refused") as observed:
        url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        ctx = Context(model="offline", index_backend="weaviate", weaviate_url=url)
        start = time.monotonic()
        result = ask(ctx, embeddings)
        observed.observe(
            "time.monotonic() - start < 30", bool(time.monotonic() - start < 30), expected=True
        )
        observed.observe(
            'result["route"] == "error" and "index_unavailable" in result["flags"]',
            bool(result["route"] == "error" and "index_unavailable" in result["flags"]),
            expected=True,
        )
        observed.observe(
            '"Weaviate" in text(result) and "127.0.0.1" in text(result)',
            bool("Weaviate" in text(result) and "127.0.0.1" in text(result)),
            expected=True,
        )


def test_cli_ask_and_ingest_say_what_is_wrong(tmp_path, monkeypatch, fault_ledger):
    monkeypatch.setenv("ARAG_MODEL", "offline")
    runner = CliRunner()
    with fault_ledger.fault("index", "CLI: data directory missing") as observed:
        result = runner.invoke(cli_app, ["ask", Q, "--data-dir", str(tmp_path / "none")])
        observed.observe("result.exit_code == 2", result.exit_code, expected=2)
        observed.observe(
            '"Run `arag ingest PATH` first." in result.output',
            bool("Run `arag ingest PATH` first." in result.output),
            expected=True,
        )
        observed.observe(
            '"Traceback" not in result.output',
            bool("Traceback" not in result.output),
            expected=True,
        )
    with fault_ledger.fault("index", "CLI: ingest into an unreadable index") as observed:
        (tmp_path / "bad").mkdir()
        (tmp_path / "bad" / "index_meta.json").write_text("{not json", encoding="utf-8")
        doc = tmp_path / "doc.md"
        doc.write_text("# Doc\n\nSome text about oxygen.", encoding="utf-8")
        result = runner.invoke(cli_app, ["ingest", str(doc), "--data-dir", str(tmp_path / "bad")])
        observed.observe("result.exit_code == 2", result.exit_code, expected=2)
        observed.observe(
            '"index_meta.json is unreadable" in result.output',
            bool("index_meta.json is unreadable" in result.output),
            expected=True,
        )
        observed.observe(
            '"run `arag ingest PATH` again" in result.output',
            bool("run `arag ingest PATH` again" in result.output),
            expected=True,
        )


@pytest.mark.parametrize("damaged", ["truncated"], indirect=True)
def test_server_readyz_and_answer_report_a_damaged_index(damaged, fault_ledger):
    with fault_ledger.fault("index", "server: chunk data files truncated") as observed:
        ctx = Context(model="offline", data_dir=str(damaged))
        with TestClient(local_app(ServerSettings(), ctx)) as client:
            ready = client.get("/readyz")
            observed.observe("ready.status_code == 503", ready.status_code, expected=503)
            observed.observe(
                '"is damaged" in ready.json()["checks"]["index"]',
                bool("is damaged" in ready.json()["checks"]["index"]),
                expected=True,
            )
            observed.observe(
                "str(damaged) not in ready.text",
                bool(str(damaged) not in ready.text),
                expected=True,
            )  # anyone may ask: no server paths
            observed.observe(
                'ready.json()["checks"]["threads"] == "ok"',
                ready.json()["checks"]["threads"],
                expected="ok",
            )
            reply = client.post(
                "/v1/chat/completions",
                json={"model": MODEL_ID, "messages": [{"role": "user", "content": Q}]},
            )
            observed.observe("reply.status_code == 200", reply.status_code, expected=200)
            content = reply.json()["choices"][0]["message"]["content"]
            observed.observe(
                '"The index is unavailable: The index at" in content',
                bool("The index is unavailable: The index at" in content),
                expected=True,
            )
            observed.observe(
                '"Rebuild it" in content', bool("Rebuild it" in content), expected=True
            )
