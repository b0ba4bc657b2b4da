"""The answer benchmark end to end on a slice of the realistic corpus, so the runner cannot rot."""

from __future__ import annotations

import json

import pytest

from benchmarks.answers.__main__ import main
from benchmarks.answers.sets import REALISTIC_CORPUS

pytestmark = pytest.mark.integration


def test_a_slice_of_the_realistic_corpus_runs_and_reports(tmp_path, capsys):
    figures = main(["--dataset", "realistic", "--limit", "2", "--out", str(tmp_path)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == figures
    realistic = figures["realistic"]
    assert realistic["mode"] == "offline"
    assert realistic["by_kind"] == {"answerable": 2, "near_miss": 2, "out_of_corpus": 2}
    assert sum(realistic["routes"].values()) == 6
    # "Who won the 2018 FIFA World Cup?" and "What is the capital of Australia?" are not in
    # documentation about compression libraries: both must be declined.
    assert realistic["out_of_corpus_abstained"] == 1.0
    report = json.loads((tmp_path / "answers.json").read_text(encoding="utf-8"))
    rows = report["results"][0]["rows"]
    corpus = {p.name for p in REALISTIC_CORPUS.iterdir()}
    cited = {source for row in rows for source in row["cited"]}
    assert cited and cited <= corpus  # citations name the corpus's files
    assert "| realistic | 6 |" in (tmp_path / "answers.md").read_text(encoding="utf-8")
