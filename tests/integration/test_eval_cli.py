"""``arag eval`` end to end, offline: real graph, real index, langsmith.evaluate, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arag.cli import app

pytestmark = pytest.mark.integration

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PARAS = [
    ("Oxygen", "Oxygen was discovered by Carl Wilhelm Scheele in Uppsala in 1773."),
    ("Tesla", "Nikola Tesla died in New York City on 7 January 1943."),
    ("Apollo", "The Apollo program landed the first humans on the Moon in 1969."),
    ("Amazon", "The Amazon rainforest covers much of the Amazon basin of South America."),
]
QUESTIONS = [
    ("Who discovered oxygen?", "Carl Wilhelm Scheele", 0),
    ("When did Nikola Tesla die?", "7 January 1943", 1),
    ("When did Apollo land the first humans on the Moon?", "1969", 2),
]


@pytest.fixture
def squad_file(tmp_path) -> Path:
    data = {
        "data": [
            {
                "title": title,
                "paragraphs": [
                    {
                        "context": text,
                        "qas": [
                            {"id": f"q{n}", "question": q, "answers": [{"text": a}]}
                            for n, (q, a, i) in enumerate(QUESTIONS)
                            if PARAS[i][0] == title
                        ],
                    }
                ],
            }
            for title, text in PARAS
        ]
    }
    path = tmp_path / "mini_squad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(autouse=True)
def offline_env(monkeypatch):
    for name in (
        "OPENAI_API_KEY",
        "GROQ_API_KEY",
        "ARAG_MODEL",
        "LANGSMITH_API_KEY",
        "LANGSMITH_TRACING",
        "TAVILY_API_KEY",
        "ARAG_WEB_SEARCH",
    ):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str):
    result = CliRunner().invoke(app, ["eval", *args])
    assert result.exit_code == 0, result.output
    return result


def test_eval_writes_markdown_and_json_reports(squad_file, tmp_path):
    out = tmp_path / "report"
    result = invoke(str(squad_file), "--out", str(out))
    report = json.loads(next(out.glob("*.json")).read_text())
    summary = report["variants"][0]["summary"]
    assert report["dataset"]["questions"] == 3 and report["uploaded_to_langsmith"] is False
    assert summary["recall_at_5"] == 1.0  # four passages: the gold one is always in the top 5
    assert summary["recall_at_1"] >= 2 / 3
    assert summary["answer_found"] >= 2 / 3  # the extractive answer quotes the right sentence
    assert summary["retrieved"] == 1.0 and summary["llm_calls"] == 0.0
    row = report["variants"][0]["rows"][0]
    assert row["outputs"]["retrieved_sources"] and "latency_s" in row["scores"]
    markdown = next(out.glob("*.md")).read_text()
    assert "| as_given |" in markdown and "R@5" in markdown
    assert "| as_given |" in result.output  # the summary is printed too


def test_limit_and_bad_input(squad_file, tmp_path):
    out = tmp_path / "r"
    invoke(str(squad_file), "--limit", "1", "--out", str(out))
    report = json.loads(next(out.glob("*.json")).read_text())
    assert report["dataset"]["questions"] == 1
    bad = CliRunner().invoke(app, ["eval", str(tmp_path / "nope.json")])
    assert bad.exit_code == 2 and "no such file" in bad.output
    plain = tmp_path / "plain.jsonl"
    plain.write_text('{"question": "Q?", "answers": ["a"]}\n')
    no_corpus = CliRunner().invoke(app, ["eval", str(plain)])
    assert no_corpus.exit_code == 2 and "no passages" in no_corpus.output


def test_sweep_plots_accuracy_against_retrieval_rate(squad_file, tmp_path):
    out = tmp_path / "sweep"
    result = invoke(str(squad_file), "--sweep", "--out", str(out))
    png = next(out.glob("*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = next(out.glob("*.md")).read_text()
    assert "probe_weak" in table and "offline" in table
    rows = [line for line in table.splitlines() if line.startswith("| probe_weak")]
    rates = [float(r.split("|")[3]) for r in rows]
    # The ends of the grid give all-retrieval and no-retrieval: the trade-off is visible.
    assert rates[0] == 1.0 and rates[-1] == 0.0
    relevance = [line for line in table.splitlines() if line.startswith("| relevance_threshold")]
    accuracy = [float(r.split("|")[4]) for r in relevance]
    # No document passes a threshold above 1, so nothing is answered: accuracy falls to 0.
    assert len(relevance) == 6 and accuracy[0] > 0 and accuracy[-1] == 0.0
    assert "retrieval rate" in result.output


@pytest.mark.skipif(not (SHARED / "belebele").exists(), reason="shared Belebele data not present")
def test_belebele_measures_korean_as_given_against_the_english_reference(tmp_path):
    out = tmp_path / "bele"
    invoke(
        str(SHARED / "belebele/belebele_en_ko_aligned.jsonl"), "--limit", "10", "--out", str(out)
    )
    report = json.loads(next(out.glob("*.json")).read_text())
    variants = {v["name"]: v["summary"] for v in report["variants"]}
    assert set(variants) == {"as_given", "reference"}
    # Offline there is no translation: Korean questions barely find English passages.
    assert variants["reference"]["mrr"] > variants["as_given"]["mrr"]


@pytest.mark.skipif(not (SHARED / "xquad").exists(), reason="shared XQuAD data not present")
def test_shared_xquad_quick_run(tmp_path):
    out = tmp_path / "xq"
    invoke(str(SHARED / "xquad/xquad.en.json"), "--limit", "10", "--out", str(out))
    summary = json.loads(next(out.glob("*.json")).read_text())["variants"][0]["summary"]
    assert summary["questions"] == 10 and summary["recall_at_5"] >= 0.8


def test_eval_with_a_model_and_no_langsmith_key_sends_nothing_off_the_machine(
    squad_file, tmp_path, monkeypatch
):
    """Every connection and name lookup is recorded; only loopback may be reached."""
    from tests.egress import only_loopback
    from tests.fakes.openai_server import FakeOpenAIServer, Reply
    from tools.llm.chat_models import clear_model_cache

    outside = only_loopback(monkeypatch)
    monkeypatch.setenv("LANGSMITH_TRACING", "true")  # a shell that traces by habit
    with FakeOpenAIServer() as server:
        server.script(*[Reply.say("CORRECT")] * 40)  # judge verdicts; graph calls fall back
        monkeypatch.setenv("ARAG_MODEL", "openai:fake-model")
        monkeypatch.setenv("ARAG_BASE_URL", server.base_url)
        clear_model_cache()
        invoke(str(squad_file), "--limit", "2", "--out", str(tmp_path / "r"))
        clear_model_cache()
    assert server.chat_requests(), "the model was used"
    assert outside == []


def test_eval_upload_without_a_key_is_refused(squad_file, tmp_path):
    result = CliRunner().invoke(app, ["eval", str(squad_file), "--upload"])
    assert result.exit_code == 2
    assert "--upload needs LANGSMITH_API_KEY" in result.output
