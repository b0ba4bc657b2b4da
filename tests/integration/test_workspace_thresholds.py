"""A workspace's own score thresholds (``arag workspace``): the same question over the same
document routes differently in two workspaces, a run-time value still wins, and a running
graph picks up a change. Offline, real index, real graph.
"""  # noqa: D205

from __future__ import annotations

import json

import pytest
from langchain_core.messages import HumanMessage
from typer.testing import CliRunner

from arag.cli import app
from graph.builder import build_graph
from graph.config import Context
from tests.runs import invoke
from tools.ingest.pipeline import ingest
from tools.workspaces import workspace_dir

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_provider_env")]

runner = CliRunner()
ZEBRA = "# Zebra facts\n\nThe zebra named Quagga lives in the Karoo and eats golden grass.\n"
QUESTION = "What color is the grass zebras eat?"  # probe score 0.84


@pytest.fixture
def data_dir(tmp_path, embeddings):
    """The same document in workspaces ``lenient`` and ``strict``."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "zebra.md").write_text(ZEBRA)
    data = tmp_path / "data"
    for name in ("lenient", "strict"):
        report = ingest([str(docs)], str(workspace_dir(data, name)), embeddings)
        assert not report.files_failed
    return data


def workspace_cli(data_dir, *args: str) -> dict:
    result = runner.invoke(app, ["workspace", *args, "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def ask(graph, data_dir, workspace: str, **context) -> dict:
    ctx = Context(data_dir=str(data_dir), workspace=workspace, model="offline", **context)
    return invoke(graph, {"messages": [HumanMessage(QUESTION)]}, context=ctx)


def decision(result: dict) -> tuple[str, str]:
    (step,) = [s for s in result["path"] if s["node"] == "check_confidence"]
    return step["decision"], step["reason"]


def test_two_workspaces_route_the_same_question_by_their_own_thresholds(
    data_dir, embeddings, monkeypatch
):
    monkeypatch.setenv("ARAG_PROBE_WEAK", "0.3")  # the service-wide value the workspace replaces
    shown = workspace_cli(data_dir, "strict", "--probe-weak", "0.9", "--probe-strong", "0.95")
    assert shown["language"] == "en"
    assert shown["thresholds"]["probe_weak"] == {"value": 0.9, "from": "workspace"}
    assert shown["thresholds"]["relevance_threshold"] == {"value": 0.45, "from": "service"}
    assert workspace_cli(data_dir, "lenient")["thresholds"]["probe_weak"] == {
        "value": 0.3,
        "from": "service",
    }

    graph = build_graph(embeddings=embeddings)  # one graph, as a server holds it
    lenient = ask(graph, data_dir, "lenient")
    assert decision(lenient)[0] == "retrieve"
    assert [c["source"] for c in lenient["citations"]] == ["zebra.md"]

    strict = ask(graph, data_dir, "strict")
    verdict, reason = decision(strict)
    assert verdict == "web" and "(0.84 < 0.9)" in reason  # the workspace's threshold, named
    assert strict["citations"] == []

    # a value passed at run time wins over the workspace's
    assert decision(ask(graph, data_dir, "strict", probe_weak=0.2))[0] == "retrieve"

    # dropping the workspace's value takes effect on the running graph's next question
    workspace_cli(data_dir, "strict", "--unset", "probe-weak", "--unset", "probe_strong")
    again = ask(graph, data_dir, "strict")
    assert decision(again)[0] == "retrieve"
    assert [c["source"] for c in again["citations"]] == ["zebra.md"]


def test_a_workspace_may_set_its_own_near_miss_check(data_dir, embeddings):
    shown = workspace_cli(data_dir, "strict", "--answer-coverage", "0.95")
    assert shown["thresholds"]["answer_coverage"] == {"value": 0.95, "from": "workspace"}
    graph = build_graph(embeddings=embeddings)
    assert [c["source"] for c in ask(graph, data_dir, "lenient")["citations"]] == ["zebra.md"]
    strict = ask(graph, data_dir, "strict")  # "color" is in no sentence: below 0.95 of the terms
    assert strict["route"] == "insufficient" and "answer_not_found" in strict["flags"]
    (step,) = [s for s in strict["path"] if s["node"] == "generate_answer"]
    assert "(< 0.95)" in step["reason"]


def test_a_bad_threshold_or_workspace_is_refused_and_nothing_written(data_dir):
    settings = workspace_dir(data_dir, "strict") / "workspace_settings.json"
    bad = runner.invoke(
        app, ["workspace", "strict", "--data-dir", str(data_dir), "--probe-weak", "2"]
    )
    assert bad.exit_code == 2 and "--probe-weak" in bad.output
    unknown = runner.invoke(
        app, ["workspace", "strict", "--data-dir", str(data_dir), "--unset", "k"]
    )
    assert unknown.exit_code == 2 and "'k' is no threshold" in unknown.output
    assert not settings.exists()
    missing = runner.invoke(
        app, ["workspace", "team-z", "--data-dir", str(data_dir), "--probe-weak", "0.5"]
    )
    assert missing.exit_code == 2 and "no workspace 'team-z'" in missing.output
    assert not workspace_dir(data_dir, "team-z").exists()  # not created by a setting


def test_a_damaged_settings_file_is_reported_like_a_damaged_index(data_dir, embeddings):
    settings = workspace_dir(data_dir, "strict") / "workspace_settings.json"
    settings.write_text('{"thresholds": {"probe_weak": "high"}}')  # edited by hand
    result = ask(build_graph(embeddings=embeddings), data_dir, "strict")
    assert result["route"] == "error"
    assert "workspace_settings.json: probe_weak must be a number" in result["answer"]
    shown = runner.invoke(app, ["workspace", "strict", "--data-dir", str(data_dir)])
    assert shown.exit_code == 2 and "probe_weak must be a number" in shown.output
