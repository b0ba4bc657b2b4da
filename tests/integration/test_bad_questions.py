"""Bad questions through `arag ask` and the /v1 API: each gets the answer or message a user expects.

Empty or blank; 100,000 characters (cut with a notice in the graph; 413 from a server whose
body limit it exceeds); control characters; invalid UTF-8 and lone surrogates; a language
the offline mode cannot translate. Offline mode over the bundled sample corpus.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from arag.cli import app
from arag.server.app import local_app
from arag.server.settings import ServerSettings
from graph.config import Context
from tests.serving import copy_index

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

ROOT = Path(__file__).resolve().parents[2]
KEY = "bad-questions-key-" + "q" * 16
TESLA = "When did Nikola Tesla die?"
LONG = TESLA + " " + "and also tell me more " * 4600  # 100,000+ characters
EMPTY_MESSAGE = "Please ask a question: the message was empty."
TRUNCATED_NOTE = "your question was longer than 4,000 characters; only its beginning was used"
AMHARIC = "ቴስላ መቼ ሞተ?"  # "When did Tesla die?": no offline translation into English
NO_TRANSLATION = "translation needs an LLM"
runner = CliRunner()


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("ARAG_MODEL", "offline")
    monkeypatch.delenv("ARAG_MAX_QUESTION_CHARS", raising=False)


def ask(question: str, data_dir: Path) -> dict:
    result = runner.invoke(app, ["ask", question, "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("question", ["", "   ", "\t\n  \r\n", "\x00\x07\u200b"])
def test_cli_empty_or_blank_question(question, sample_data_dir, fault_ledger):
    with fault_ledger.fault("input", "empty or blank question (CLI)") as observed:
        reply = ask(question, sample_data_dir)
        observed.observe(
            'reply["route"] == "invalid_input"', reply["route"], expected="invalid_input"
        )
        observed.observe(
            'reply["answer"].startswith(EMPTY_MESSAGE) and reply["citations"] == []',
            bool(reply["answer"].startswith(EMPTY_MESSAGE) and reply["citations"] == []),
            expected=True,
        )


def test_cli_100k_character_question_is_cut_with_a_notice(sample_data_dir, fault_ledger):
    assert len(LONG) > 100_000
    with fault_ledger.fault("input", "100,000-character question (CLI)") as observed:
        reply = ask(LONG, sample_data_dir)
        observed.observe(
            '"question_truncated" in reply["flags"]',
            bool("question_truncated" in reply["flags"]),
            expected=True,
        )
        observed.observe(
            'f"Note: {TRUNCATED_NOTE}." in reply["answer"]',
            bool(f"Note: {TRUNCATED_NOTE}." in reply["answer"]),
            expected=True,
        )
        observed.observe(
            'reply["path"][0]["reason"] == ( "no history; question cut to its fi...',
            reply["path"][0]["reason"],
            expected="no history; question cut to its first 4,000 characters",
        )


def test_cli_control_characters_are_dropped(sample_data_dir, fault_ledger):
    with fault_ledger.fault("input", "control characters in the question (CLI)") as observed:
        reply = ask("When did \x1b[31mNikola\x00 Tesla\u202e die?\x07", sample_data_dir)
        observed.observe(
            'reply["route"] == "retrieval" and "1943" in reply["answer"]',
            bool(reply["route"] == "retrieval" and "1943" in reply["answer"]),
            expected=True,
        )
        observed.observe(
            'reply["citations"][0]["title"] == "Nikola Tesla"',
            reply["citations"][0]["title"],
            expected="Nikola Tesla",
        )


def test_cli_invalid_utf8_argument(sample_data_dir, fault_ledger):
    # The shell passes raw bytes; Python turns undecodable ones into lone surrogates.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARAG_MODEL": "offline"}
    question = TESLA.encode() + b" \xff\xfe\xc3"
    with fault_ledger.fault("input", "invalid UTF-8 in the question (CLI)") as observed:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "arag.cli",
                "ask",
                question,
                "--data-dir",
                str(sample_data_dir),
                "--json",
            ],
            capture_output=True,
            env=env,
            timeout=120,
        )
        observed.observe(
            str(done.stderr.decode(errors="replace")[-2000:]), done.returncode, expected=0
        )
        reply = json.loads(done.stdout)
        observed.observe(
            'reply["route"] == "retrieval" and "1943" in reply["answer"]',
            bool(reply["route"] == "retrieval" and "1943" in reply["answer"]),
            expected=True,
        )


def test_cli_unsupported_language_offline(sample_data_dir, fault_ledger):
    with fault_ledger.fault(
        "input", "question in a language offline mode cannot translate"
    ) as observed:
        reply = ask(AMHARIC, sample_data_dir)
        observed.observe(
            '"translation_skipped" in reply["flags"]',
            bool("translation_skipped" in reply["flags"]),
            expected=True,
        )
        observed.observe(
            'NO_TRANSLATION in reply["answer"]',
            bool(NO_TRANSLATION in reply["answer"]),
            expected=True,
        )


@pytest.fixture(scope="module")
def api(sample_data_dir, tmp_path_factory):
    data = copy_index(sample_data_dir, tmp_path_factory.mktemp("badq") / "data")
    os.environ.setdefault("ARAG_MODEL", "offline")

    def client_for(max_body_bytes: int) -> TestClient:
        settings = ServerSettings(api_keys={KEY: "alice"}, max_body_bytes=max_body_bytes)
        return TestClient(local_app(settings, Context(data_dir=str(data), model="offline")))

    with client_for(1_000_000) as roomy, client_for(20_000) as strict:
        yield roomy, strict


def post(client: TestClient, body: bytes | dict):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/v1/chat/completions",
        content=raw,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )


def chat(content: str) -> dict:
    return {"model": "adaptive-rag", "messages": [{"role": "user", "content": content}]}


def answer_of(response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_api_blank_question(api, fault_ledger):
    roomy, _ = api
    with fault_ledger.fault("input", "empty or blank question (HTTP)") as observed:
        response = post(roomy, chat(" \n\t "))
        observed.observe(
            "answer_of(response).startswith(EMPTY_MESSAGE)",
            bool(answer_of(response).startswith(EMPTY_MESSAGE)),
            expected=True,
        )
        observed.observe(
            'response.json()["route"] == "invalid_input"',
            response.json()["route"],
            expected="invalid_input",
        )


def test_api_100k_question_is_413_over_the_limit_else_cut(api, fault_ledger):
    roomy, strict = api
    with fault_ledger.fault("input", "100,000-character question (HTTP)") as observed:
        refused = post(strict, chat(LONG))
        observed.observe("refused.status_code == 413", refused.status_code, expected=413)
        observed.observe(
            'refused.json()["error"] == { "message": "Request body is larger tha...',
            refused.json()["error"],
            expected={
                "message": "Request body is larger than 20000 bytes.",
                "type": "invalid_request_error",
                "param": None,
                "code": "too_large",
            },
        )
        cut = post(roomy, chat(LONG))
        observed.observe(
            "TRUNCATED_NOTE in answer_of(cut)",
            bool(TRUNCATED_NOTE in answer_of(cut)),
            expected=True,
        )
        observed.observe(
            '"question_truncated" in cut.json()["flags"]',
            bool("question_truncated" in cut.json()["flags"]),
            expected=True,
        )


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (json.dumps(chat("When did Tesla die?\u0000\u001b[2J\u202e")).encode(), 200),
        (
            b'{"model": "adaptive-rag", "messages": [{"role": "user", "content": '
            b'"When did Tesla die? \\ud800\\udfff\\udc00"}]}',
            200,
        ),  # lone surrogates
        (
            b'{"model": "adaptive-rag", "messages": [{"role": "user", "content": '
            b'"When did Tesla die? \xff\xfe"}]}',
            400,
        ),  # invalid UTF-8
    ],
    ids=["control-characters", "lone-surrogates", "invalid-utf8"],
)
def test_api_control_characters_surrogates_and_invalid_utf8(api, raw, status, fault_ledger):
    roomy, _ = api
    with fault_ledger.fault(
        "input", "control characters, surrogates, invalid UTF-8 (HTTP)"
    ) as observed:
        response = post(roomy, raw)
        observed.observe(str(response.text), response.status_code, expected=status)
        if status == 200:
            observed.observe(
                '"1943" in answer_of(response)', bool("1943" in answer_of(response)), expected=True
            )
        else:
            observed.observe(
                'response.json()["error"]["message"] == "There was an error parsing ...',
                response.json()["error"]["message"],
                expected="There was an error parsing the body",
            )


def test_api_unsupported_language(api, fault_ledger):
    roomy, _ = api
    with fault_ledger.fault(
        "input", "question in a language offline mode cannot translate"
    ) as observed:
        response = post(roomy, chat(AMHARIC))
        observed.observe(
            "NO_TRANSLATION in answer_of(response)",
            bool(NO_TRANSLATION in answer_of(response)),
            expected=True,
        )
        observed.observe(
            '"translation_skipped" in response.json()["flags"]',
            bool("translation_skipped" in response.json()["flags"]),
            expected=True,
        )
