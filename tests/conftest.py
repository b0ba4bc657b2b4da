"""Shared fixtures: scripted models, a fixed-score index, and the real embedded sample index."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.config import Context
from tests.fakes.static_index import StaticIndex

# The fault ledger (fixture ``fault_ledger``, ``--reliability-report``): see tests/reliability.py.
# Secret canaries (fixture ``canary_env``), checked in all captured output: tests/secrets_scan.py.
pytest_plugins = ["tests.reliability", "tests.secrets_scan"]

SAMPLE_CORPUS = Path(__file__).resolve().parents[1] / "arag" / "sample_corpus"

PARIS = ("france#0", "Paris is the capital and largest city of France.", 0.9)
LYON = ("france#1", "Lyon is the third-largest city of France.", 0.7)
NOISE = ("noise#0", "Bananas are rich in potassium.", 0.2)


@pytest.fixture
def static_index() -> StaticIndex:
    """Strong match for the Paris question; weak noise for anything else."""
    return StaticIndex(
        hits={"What is the capital of France?": [PARIS, LYON]},
        default=[NOISE],
    )


@pytest.fixture
def ctx(tmp_path) -> Context:
    """Default budgets and thresholds, with a data dir that exists but holds nothing."""
    return Context(data_dir=str(tmp_path / "data"), model="")


@pytest.fixture(scope="session")
def embeddings():
    """The real offline embeddings (weights ship in the wheel; ~0.3 s to load)."""
    from tools.embeddings import WordLlamaEmbeddings

    return WordLlamaEmbeddings()


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory, embeddings) -> Path:
    """The bundled sample corpus ingested once into a real embedded index."""
    from tools.ingest.pipeline import ingest

    data_dir = tmp_path_factory.mktemp("sample-index")
    report = ingest([str(SAMPLE_CORPUS)], str(data_dir), embeddings)
    assert not report.files_failed, report.files_failed
    return data_dir
