"""The graph benchmark: the counting model counts right, scripts steer both graphs, JSON shape."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from benchmarks.graph.__main__ import main
from benchmarks.graph.counting_model import CountingChatModel, Latency, estimate_tokens
from benchmarks.graph.runner import BASELINE, OURS, Setup, run_once
from benchmarks.graph.scenarios import BY_KEY


class Verdict(BaseModel):
    ok: bool


def tagged(node):
    return {"tags": [f"arag:{node}"]}


def test_counting_model_counts_calls_and_tokens_and_replies_by_node():
    seen = []

    def responder(node, messages):
        seen.append(node)
        return "x" * 40 if node == "generate_answer" else {"ok": True}

    model = CountingChatModel(responder=responder, latency=Latency(0, 0))
    reply = model.invoke(
        [SystemMessage("a" * 8), HumanMessage("b" * 12)], tagged("generate_answer")
    )
    assert reply.content == "x" * 40
    verdict = model.with_structured_output(Verdict).invoke("c" * 4, tagged("check_answer"))
    assert verdict == Verdict(ok=True)
    assert seen == ["generate_answer", "check_answer"]
    first, second = model.calls
    assert (first.prompt_tokens, first.completion_tokens) == (5, 10)  # 20 chars in, 40 out
    assert second.prompt_tokens > estimate_tokens("c" * 4)  # the bound tool schema is billed
    assert second.completion_tokens == estimate_tokens('{"ok": true}')
    assert model.prompt_tokens == first.prompt_tokens + second.prompt_tokens


def test_counting_model_rejects_untagged_calls():
    model = CountingChatModel(responder=lambda node, messages: "x", latency=Latency(0, 0))
    with pytest.raises(AssertionError, match="node tag"):
        model.invoke("hello")


def test_latency_grows_with_output_tokens():
    latency = Latency(300, 5)
    assert latency.seconds(0) == pytest.approx(0.3)
    assert latency.seconds(200) == pytest.approx(0.31)


async def test_async_calls_sleep_without_blocking_and_count():
    model = CountingChatModel(responder=lambda node, messages: "ok", latency=Latency(1, 0))
    reply = await model.ainvoke("hi", tagged("generate_answer"))
    assert reply.content == "ok" and len(model.calls) == 1


@pytest.fixture(scope="module")
def setup(sample_data_dir, embeddings):
    from tools.index import open_index

    return Setup(open_index(str(sample_data_dir), embeddings), embeddings, Latency(0, 0))


def test_happy_path_scenario_takes_the_same_decisions_in_both_graphs(setup):
    ours = run_once(OURS, BY_KEY["b"], setup)
    base = run_once(BASELINE, BY_KEY["b"], setup)
    assert ours.route == "retrieval" and ours.nodes == [
        "grade_documents",
        "generate_answer",
        "check_answer",
    ]
    assert base.route == "vectorstore" and base.finished
    assert base.nodes == ["route_question", *["grade_document"] * 4, "generate"] + [
        "grade_hallucination",
        "grade_answer",
    ]


def test_ungrounded_draft_is_regenerated_in_both_graphs(setup):
    ours = run_once(OURS, BY_KEY["d"], setup)
    base = run_once(BASELINE, BY_KEY["d"], setup)
    assert ours.nodes.count("generate_answer") == 2 and base.nodes.count("generate") == 2
    assert base.nodes.count("grade_answer") == 1  # asked only once the draft was grounded


def test_unanswerable_question_is_bounded_in_ours_and_loops_in_the_tutorial(setup):
    ours = run_once(OURS, BY_KEY["e"], setup)
    base = run_once(BASELINE, BY_KEY["e"], setup)
    assert ours.route == "insufficient" and ours.finished
    assert not base.finished and base.route == "recursion_limit"
    assert base.calls > 3 * ours.calls


def test_bench_json_shape_with_zero_latency_and_two_runs(tmp_path, capsys):
    main(
        [
            "--runs",
            "2",
            "--base-ms",
            "0",
            "--per-100-tokens-ms",
            "0",
            "--scenarios",
            "ab",
            "--parallel",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(last)
    assert summary["scenarios"]["a"]["calls"] == [1, 4]
    assert summary["scenarios"]["b"]["calls"] == [3, 8]
    results = json.loads((tmp_path / "graph.json").read_text())
    row = results["graph"]["rows"]["b"]
    assert row["ours"]["runs"] == 2 and row["baseline"]["runs"] == 2
    assert {"p50_ms", "prompt_tokens", "completion_tokens", "calls"} <= set(row["ours"])
    assert {"token_ratio", "latency_ratio", "ours_overhead_p50_ms", "concurrency_saving_ms"} <= set(
        row
    )
    passed = {t["target"]: t["pass"] for t in results["graph"]["targets"]}
    assert (
        passed["happy path (b): LLM calls ≤ 3"]
        and passed["confident closed-book (a): exactly 1 LLM call"]
    )
    assert (tmp_path / "graph_calls.png").stat().st_size > 0
    assert "| (b) happy retrieval path | 3 / 8 |" in (tmp_path / "graph.md").read_text()
