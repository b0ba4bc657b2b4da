"""Retrieval benchmark smoke run: every stack (seed, ours, bm25s), real libraries, one process each.

A hand-made SQuAD file whose questions each name their paragraph's distinctive terms checks
that the harness scores correctly (both stacks must find every answer first), and 30 XQuAD-en
questions (if the shared data is present) check that the figures are plausible.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arag.evaluation.datasets import SHARED_DATA, XQUAD_EN

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

TOPICS = {
    "Volcano": (
        "Mount Etna is an active stratovolcano on the east coast of Sicily, one of the most "
        "active volcanoes in the world, with eruptions of lava and ash.",
        "Which stratovolcano on Sicily erupts lava and ash?",
    ),
    "Chess": (
        "Chess is a board game for two players; each player moves sixteen pieces, and the "
        "goal is to checkmate the opponent's king.",
        "In which board game do you checkmate the king?",
    ),
    "Photosynthesis": (
        "Photosynthesis lets plants turn sunlight, water and carbon dioxide into glucose and "
        "oxygen inside their chloroplasts.",
        "How do plants make glucose from sunlight in chloroplasts?",
    ),
    "Jazz": (
        "Jazz is a music genre that originated in New Orleans, with swing, blue notes and "
        "improvisation by trumpet and saxophone players.",
        "Which music genre from New Orleans features saxophone improvisation?",
    ),
    "Glacier": (
        "A glacier is a persistent body of dense ice that moves slowly under its own weight "
        "and carves valleys in mountains.",
        "What dense ice body carves mountain valleys?",
    ),
    "Bitcoin": (
        "Bitcoin is a cryptocurrency whose transactions are recorded on a public blockchain "
        "ledger maintained by miners.",
        "Which cryptocurrency records transactions on a blockchain ledger kept by miners?",
    ),
}


def _tiny_squad(path: Path) -> Path:
    data = {
        "data": [
            {
                "title": title,
                "paragraphs": [
                    {"context": text, "qas": [{"id": title, "question": q, "answers": []}]}
                ],
            }
            for title, (text, q) in TOPICS.items()
        ]
    }
    path.write_text(json.dumps(data))
    return path


def _run(*args: str, tmp_path: Path) -> tuple[dict, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.retrieval", *args, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    return json.loads(last), proc.stdout


def test_both_stacks_score_a_hand_made_set_and_xquad_plausibly(tmp_path):
    args = ["--dataset", str(_tiny_squad(tmp_path / "tiny.json")), "--scale", "none"]
    xquad = SHARED_DATA / XQUAD_EN
    if xquad.is_file():
        args += ["--dataset", str(xquad), "--limit", "30"]
    else:
        print(f"shared data missing at {xquad}: only the hand-made set is run")
    figures, stdout = _run(*args, tmp_path=tmp_path)

    tiny = figures["datasets"]["tiny"]
    for stack in ("seed", "ours", "bm25s"):
        res = tiny[stack]
        assert "error" not in res, res
        assert res["n_questions"] == len(TOPICS)
        assert res["r1"] == 1.0 and res["r5"] == 1.0 and res["mrr10"] == 1.0
        assert res["p50_ms"] > 0 and res["p95_ms"] >= res["p50_ms"]
        assert res["build_s"] > 0 and res["peak_rss_mb"] > 30

    if xquad.is_file():
        xq = figures["datasets"]["xquad"]
        for stack in ("seed", "ours", "bm25s"):
            res = xq[stack]
            assert res["n_questions"] == 30
            assert 0.5 <= res["r1"] <= res["r5"] <= 1.0
            # Ranks 6-10 add at most 1/6 each to MRR@10 beyond R@5.
            assert res["r1"] <= res["mrr10"] <= res["r5"] + (1 - res["r5"]) / 6 + 1e-9

    # The report is written and shows the side-by-side table.
    md = (tmp_path / "out" / "retrieval.md").read_text()
    assert "### tiny" in md and "| R@1 | 1.000 | 1.000 | 1.00× | 1.000 | 1.00× |" in md
    assert "hybrid p50 ≤ 2× bm25s's BM25-only p50" in md  # the peer ratio is a target
    assert json.loads((tmp_path / "out" / "retrieval.json").read_text())["datasets"]
    assert "| R@1 |" in stdout  # the table is printed before the JSON line
