"""The ``arag`` command line as a user runs it: ingest, ask (with threads) and demo, offline."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from arag.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("ARAG_MODEL", "offline")


def test_ask_prints_answer_sources_and_path(sample_data_dir):
    result = runner.invoke(
        app, ["ask", "What year did Tesla die?", "--data-dir", str(sample_data_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "1943" in result.output
    assert "Sources:" in result.output and "nikola_tesla.md" in result.output
    assert "check_confidence" in result.output and "route: retrieval" in result.output
    assert "extractive answer (no LLM configured)" in result.output


def test_ask_json_output(sample_data_dir):
    result = runner.invoke(
        app,
        [
            "ask",
            "When did Carl Wilhelm Scheele discover oxygen?",
            "--json",
            "--data-dir",
            str(sample_data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["route"] == "retrieval" and "1773" in payload["answer"]
    assert payload["citations"][0]["source"].endswith("oxygen.md")
    assert [s["node"] for s in payload["path"]][0] == "condense_question"


def test_ask_without_index_explains_the_fix(tmp_path):
    result = runner.invoke(app, ["ask", "Anything?", "--data-dir", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "arag ingest" in result.output


def test_follow_up_on_a_thread_uses_history(sample_data_dir):
    args = ["--data-dir", str(sample_data_dir), "--thread", "cli-thread", "--json"]
    first = runner.invoke(app, ["ask", "What year did Tesla die?", *args])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["ask", "Who did he partner with in 1886?", *args])
    payload = json.loads(second.stdout)
    assert payload["path"][0]["decision"] == "offline_context"
    assert "Robert Lane" in payload["answer"]


def test_ingest_reports_bad_files_and_continues(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Zebras\n\nZebras have black and white stripes.\n")
    (docs / "empty.txt").write_text("")
    (docs / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    data_dir = tmp_path / "data"
    result = runner.invoke(app, ["ingest", str(docs), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "empty.txt" in result.output and "binary.txt" in result.output
    assert "1 file ok, 2 failed" in result.output
    again = runner.invoke(app, ["ingest", str(docs), "--data-dir", str(data_dir)])
    assert again.exit_code == 0
    assert "0 added" in again.output and "1 unchanged" in again.output
    ask = runner.invoke(app, ["ask", "What do zebras have?", "--data-dir", str(data_dir), "--json"])
    assert "stripes" in json.loads(ask.stdout)["answer"]


def test_demo_answers_the_sample_questions(tmp_path):
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "1943" in result.output and "1773" in result.output and "415,000" in result.output
    assert "정보가 부족하여 답변할 수 없습니다" in result.output
    assert "translation needs an LLM" in result.output
    assert result.output.count("Sources:") == 3


def test_ask_streams_llm_tokens_then_sources(sample_data_dir, monkeypatch):
    from tests.fakes.openai_server import FakeOpenAIServer, Reply
    from tools.llm.chat_models import clear_model_cache

    with FakeOpenAIServer() as server:
        server.script(
            Reply.tool_call({"relevant": [1], "reason": "about Tesla's death"}),
            Reply.say(
                "Tesla died in 1943 [1].", tokens=["Tesla", " died", " in", " 1943", " [1]."]
            ),
            Reply.tool_call({"grounded": True, "useful": True, "unsupported": [], "reason": "ok"}),
        )
        monkeypatch.setenv("ARAG_MODEL", "openai:fake-model")
        monkeypatch.setenv("ARAG_BASE_URL", server.base_url)
        clear_model_cache()
        result = runner.invoke(
            app, ["ask", "What year did Tesla die?", "--data-dir", str(sample_data_dir)]
        )
        clear_model_cache()
    assert result.exit_code == 0, result.output
    requests = server.chat_requests()
    assert len(requests) == 3
    assert requests[1].get("stream") is True  # the answer was streamed token by token
    assert "Tesla died in 1943 [1]." in result.output
    assert "Sources:\n[1] Nikola Tesla" in result.output
    assert "mode: llm — openai:fake-model" in result.output


@pytest.mark.parametrize(
    ("spec", "variable"),
    [("groq:llama-3.1-8b-instant", "GROQ_API_KEY"), ("openai:gpt-4o-mini", "OPENAI_API_KEY")],
)
def test_a_model_without_its_key_is_refused_with_the_variable_to_set(
    sample_data_dir, clean_provider_env, spec, variable
):
    result = runner.invoke(
        app,
        ["ask", "What year did Tesla die?", "--model", spec, "--data-dir", str(sample_data_dir)],
    )
    assert result.exit_code == 2
    assert variable in result.output and "ARAG_MODEL=offline" in result.output
    assert "Traceback" not in result.output


def test_contextual_ingest_offline_is_skipped_with_a_note(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Apples\n\nApples grow on trees.\n", encoding="utf-8")
    result = runner.invoke(
        app, ["ingest", str(docs), "--contextual", "--data-dir", str(tmp_path / "data")]
    )
    assert result.exit_code == 0, result.output
    assert "1 file ok" in result.output
    assert "contextual" in result.output.lower() and "skipped" in result.output.lower()


def test_ask_with_a_model_keeps_library_logs_off_stderr(sample_data_dir, tmp_path):
    # WordLlama's import used to set the root logger to INFO on stderr: every HTTP request to
    # the provider then printed a line under the answer.
    import os
    import subprocess
    import sys

    from tests.fakes.openai_server import FakeOpenAIServer, Reply

    with FakeOpenAIServer() as srv:
        srv.script(*[Reply.server_error(500)] * 20)
        env = {
            **os.environ,
            "ARAG_MODEL": "openai:fake-model",
            "ARAG_BASE_URL": srv.base_url,
            "OPENAI_API_KEY": "sk-test-not-a-real-key",
            "ARAG_MAX_RETRIES": "0",
        }
        result = subprocess.run(
            [sys.executable, "-m", "arag", "ask", "What year did Tesla die?"]
            + ["--data-dir", str(sample_data_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            cwd=tmp_path,
        )
        assert srv.chat_requests(), "the model was never asked"
    assert result.returncode == 0, result.stderr
    assert "mode: llm" in result.stderr
    assert "HTTP Request" not in result.stderr
    assert "INFO" not in result.stderr
