"""Real chat UIs in a real browser: what a user of the two kinds of chat client sees.

Page 1 is a React chat on ``useStream`` (``@langchain/langgraph-sdk/react``) against
``langgraph dev``; page 2 is a chat on the Vercel AI SDK's ``useChat`` whose route streams
``arag serve``'s ``/v1/chat/completions`` through ``streamText``. Both run in Debian's Chromium,
driven by playwright-core (``drive.mjs``), and the graph runs with a scripted model whose first
draft the check rejects. ``make test-browser`` installs the npm packages and builds the pages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.openai_by_step import StepScriptedOpenAIServer
from tests.fakes.openai_server import Reply
from tests.serving import Process, arag_serve, copy_index, free_port, langgraph_dev
from tools.llm.closed_book import UNKNOWN

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
ALICE = "alice-key-0123456789abcdef"
WRONG = "wrong-key-0123456789abcdef"
TESLA = "What year did Tesla die?"
FOLLOW_UP = "Who did he partner with in 1886?"
STANDALONE = "Who did Nikola Tesla partner with in 1886?"
REJECTED_DRAFT = "Rumour has it that Tesla died in 1901 [1]."  # its first word marks it
ANSWER = "Tesla died on 7 January 1943 [1]."
FOLLOW_UP_ANSWER = "In 1886 Tesla partnered with Robert Lane and Benjamin Vail [1]."
CHECK_REASON = "the draft gives his birth year as his death"
GRADE_REASON = "the chunk tells of Tesla's life"


@pytest.fixture(scope="module")
def node() -> str:
    """Node, Chromium, the packages and the built pages; a missing one fails (CI must not pass)."""
    path = shutil.which("node")
    if not path:
        pytest.fail("`node` not found on PATH: the pages' server and driver run on Node")
    if not (os.environ.get("CHROMIUM") or shutil.which("chromium")):
        pytest.fail("`chromium` not found on PATH (apt-get install chromium, or set CHROMIUM)")
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        pytest.fail("tests/browser/node_modules is missing: run `make test-browser` (npm ci)")
    if not (HERE / "dist" / "langgraph.html").is_file():
        pytest.fail("tests/browser/dist is missing: run `make test-browser` (builds the pages)")
    return path


def script_the_model(llm: StepScriptedOpenAIServer) -> StepScriptedOpenAIServer:
    """Two turns: the first one's draft is rejected and rewritten, the follow-up's accepted."""
    llm.script_for("closed_book", *[Reply.say(UNKNOWN, logprob=-3.0)] * 2)
    llm.script_for("condense", Reply.say(STANDALONE))
    llm.script_for(
        "DocumentGrades", *[Reply.tool_call({"relevant": [1], "reason": GRADE_REASON})] * 2
    )
    llm.script_for(
        "generate", Reply.say(REJECTED_DRAFT), Reply.say(ANSWER), Reply.say(FOLLOW_UP_ANSWER)
    )
    rejected = {"grounded": False, "useful": True, "unsupported": ["1901"], "reason": CHECK_REASON}
    accepted = {"grounded": True, "useful": True, "unsupported": [], "reason": "supported"}
    llm.script_for("AnswerCheck", *[Reply.tool_call(v) for v in (rejected, accepted, accepted)])
    return llm


def model_env(llm: StepScriptedOpenAIServer) -> dict[str, str]:
    return {
        "ARAG_MODEL": "openai:fake-model",
        "ARAG_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "sk-test",
        "ARAG_API_KEYS": f"alice:{ALICE}",
    }


@pytest.fixture
def pages(node, tmp_path):
    """Start the pages' server (``serve.mjs``) for a given ``/v1`` URL; stopped after the test."""
    started: list[Process] = []

    def start(v1: str = "") -> str:
        port = free_port()
        log_path = tmp_path / f"pages-{port}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [node, "serve.mjs", "--port", str(port), "--v1", v1],
                cwd=HERE,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = Process(proc, f"http://127.0.0.1:{port}", log_path)
        started.append(process)
        _wait_for_line(process, f"pages on {port}")
        return process.url

    yield start
    for process in started:
        process.stop()


def _wait_for_line(process: Process, line: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while line not in process.log():
        if process.proc.poll() is not None or time.monotonic() > deadline:
            process.stop()
            pytest.fail(f"the pages' server did not start:\n{process.log()[-2000:]}")
        time.sleep(0.1)


def drive(node: str, url: str, *questions: str) -> dict:
    """Ask ``questions`` in the page at ``url`` in Chromium; what the page showed (drive.mjs)."""
    done = subprocess.run(
        [node, "drive.mjs", json.dumps({"url": url, "questions": list(questions)})],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(f"drive.mjs failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_only_checked_answers_were_ever_shown(report: dict) -> None:
    """No rejected draft, internal verdict or tool call on screen, at any moment."""
    for text in report["seen"]:
        assert "Rumour" not in text and "1901" not in text, f"a rejected draft was shown: {text}"
        for internal in (CHECK_REASON, GRADE_REASON, STANDALONE):
            assert internal not in text, f"an internal model call was shown: {text}"
    for turn in report["turns"]:
        assert turn["toolCalls"] == [] and turn["toolResults"] == [], turn


def assert_two_answered_turns(report: dict) -> None:
    first, second = report["turns"]
    assert first["error"] is None and second["error"] is None, report["console"]
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    assert first["messages"][1]["text"].startswith(ANSWER)
    assert any("nikola_tesla.md" in source for source in first["sources"]), first
    roles = [m["role"] for m in second["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert [m["text"] for m in second["messages"]][::2] == [TESLA, FOLLOW_UP]
    reply = second["messages"][3]["text"]
    assert reply.startswith(FOLLOW_UP_ANSWER) and "nikola_tesla.md" in reply
    assert any("nikola_tesla.md" in source for source in second["sources"]), second


def assert_the_draft_was_rejected(llm: StepScriptedOpenAIServer) -> None:
    """The scenario happened: three drafts and three checks, none left unused."""
    assert llm.steps.count("generate") == 3 and llm.steps.count("AnswerCheck") == 3, llm.steps
    assert llm.pending_for("generate") == 0 and llm.pending_for("AnswerCheck") == 0


@pytest.fixture(scope="module")
def dev_server(sample_data_dir, tmp_path_factory):
    """``langgraph dev`` with the project's auth (key for alice) and the scripted model."""
    with StepScriptedOpenAIServer() as llm:
        with langgraph_dev(
            sample_data_dir, tmp_path_factory.mktemp("browser-dev"), **model_env(llm)
        ) as server:
            yield server, llm


def test_use_stream_chat_shows_only_the_checked_answer_and_its_sources(dev_server, pages, node):
    server, llm = dev_server
    script_the_model(llm)
    report = drive(node, f"{pages()}/langgraph.html?api={server.url}&key={ALICE}", TESLA, FOLLOW_UP)
    assert_the_draft_was_rejected(llm)
    assert_only_checked_answers_were_ever_shown(report)
    assert_two_answered_turns(report)
    first, second = report["turns"]
    assert first["threadId"] and second["threadId"] == first["threadId"]  # one thread
    stored = httpx.get(f"{server.url}/threads/{first['threadId']}", headers={"X-Api-Key": ALICE})
    assert stored.json()["metadata"]["owner"] == "alice"  # the page's key made the thread
    assert "condense" in llm.steps  # the follow-up was made standalone from the thread


def test_use_stream_chat_with_a_wrong_key_shows_the_error(dev_server, pages, node):
    server, _ = dev_server
    report = drive(node, f"{pages()}/langgraph.html?api={server.url}&key={WRONG}", TESLA)
    (turn,) = report["turns"]
    assert "401" in turn["error"] and "Invalid API key" in turn["error"]
    assert [m["role"] for m in turn["messages"]] == ["user"]  # no answer, no thread
    assert not turn["threadId"]


def test_use_stream_chat_shows_a_tool_call_when_a_thread_holds_one(dev_server, pages, node):
    """The page draws tool calls and results, so the tests that find none would see a leak."""
    server, _ = dev_server
    keyed = {"X-Api-Key": ALICE}
    created = httpx.post(
        f"{server.url}/threads", json={"metadata": {"graph_id": "adaptive_rag"}}, headers=keyed
    )
    thread = created.json()["thread_id"]
    call = {"id": "call_1", "name": "DocumentGrades", "args": {"relevant": [1]}}
    messages = [
        {"type": "human", "content": TESLA},
        {"type": "ai", "content": "", "tool_calls": [call]},
        {"type": "tool", "content": "graded", "tool_call_id": "call_1"},
    ]
    updated = httpx.post(
        f"{server.url}/threads/{thread}/state",
        json={"values": {"messages": messages}, "as_node": "respond"},
        headers=keyed,
    )
    assert updated.status_code == 200, updated.text
    report = drive(node, f"{pages()}/langgraph.html?api={server.url}&key={ALICE}&thread={thread}")
    (turn,) = report["turns"]
    assert turn["threadId"] == thread and turn["error"] is None
    assert len(turn["toolCalls"]) == 1 and "DocumentGrades" in turn["toolCalls"][0]
    assert turn["toolResults"] == ["graded"]


@pytest.fixture(scope="module")
def v1_server(sample_data_dir, tmp_path_factory):
    """``arag serve`` with a key for alice and the scripted model."""
    data = copy_index(sample_data_dir, tmp_path_factory.mktemp("browser-serve") / "data")
    with StepScriptedOpenAIServer() as llm:
        with arag_serve(data, tmp_path_factory.mktemp("browser-serve-logs"), **model_env(llm)) as s:
            yield s, llm


def test_ai_sdk_chat_shows_only_the_checked_answer_and_its_sources(v1_server, pages, node):
    server, llm = v1_server
    script_the_model(llm)
    report = drive(node, f"{pages(server.url + '/v1')}/ai-sdk.html?key={ALICE}", TESLA, FOLLOW_UP)
    assert_the_draft_was_rejected(llm)
    assert_only_checked_answers_were_ever_shown(report)
    assert_two_answered_turns(report)
    # useChat keeps the history and sends it all: the follow-up was condensed from it.
    assert "condense" in llm.steps
    chats = [line for line in server.log().splitlines() if '"path": "/v1/chat/completions"' in line]
    assert len(chats) == 2 and all('"owner": "alice"' in line for line in chats), chats


def test_ai_sdk_chat_with_a_wrong_key_shows_the_error(v1_server, pages, node):
    server, _ = v1_server
    report = drive(node, f"{pages(server.url + '/v1')}/ai-sdk.html?key={WRONG}", TESLA)
    (turn,) = report["turns"]
    assert turn["error"] == "Invalid API key."
    assert [m["role"] for m in turn["messages"]] == ["user"]
