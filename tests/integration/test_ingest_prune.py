"""``arag ingest``: a missing path changes nothing; ``--prune`` removes only files that are gone."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from arag.cli import app

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("ARAG_MODEL", "offline")


def sources(data_dir) -> set[str]:
    from pathlib import Path

    from tools.ingest.pipeline import chunk_counts, record_manager_for

    manager = record_manager_for(Path(data_dir), "lancedb/chunks")
    return {s.rsplit("/", 1)[-1] for s in chunk_counts(manager)}


def test_a_missing_path_is_an_error_and_creates_nothing(tmp_path):
    data_dir = tmp_path / "index"
    result = runner.invoke(
        app, ["ingest", str(tmp_path / "no-such-dir"), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 2
    assert "no such file or directory" in result.output and "no-such-dir" in result.output
    assert not data_dir.exists()


def test_prune_removes_only_files_gone_from_under_the_given_folder(tmp_path):
    docs, other = tmp_path / "docs", tmp_path / "other"
    docs.mkdir()
    other.mkdir()
    (docs / "zebra.md").write_text("# Zebras\n\nZebras have black and white stripes.\n")
    (docs / "lion.md").write_text("# Lions\n\nLions live in prides on the savanna.\n")
    (other / "whale.md").write_text("# Whales\n\nBlue whales are the largest animals.\n")
    data_dir = str(tmp_path / "index")
    for folder in (docs, other):
        assert runner.invoke(app, ["ingest", str(folder), "--data-dir", data_dir]).exit_code == 0
    (docs / "zebra.md").unlink()

    preview = runner.invoke(
        app, ["ingest", str(docs), "--prune", "--dry-run", "--data-dir", data_dir]
    )
    assert preview.exit_code == 0, preview.output
    assert "would delete" in preview.output and "zebra.md" in preview.output
    assert "lion.md" not in preview.output and "whale.md" not in preview.output
    assert sources(data_dir) == {"zebra.md", "lion.md", "whale.md"}  # a dry run changes nothing

    pruned = runner.invoke(app, ["ingest", str(docs), "--prune", "--data-dir", data_dir])
    assert pruned.exit_code == 0, pruned.output
    assert "deleted 1 chunk(s) of" in pruned.output and "zebra.md" in pruned.output
    # whale.md was not named in this run, but it still exists: it stays.
    assert sources(data_dir) == {"lion.md", "whale.md"}
    ask = runner.invoke(app, ["ask", "Which animals have black and white stripes?", "--data-dir",
                              data_dir, "--json"])  # fmt: skip
    assert "zebra" not in ask.output.lower()


def test_dry_run_needs_prune(tmp_path):
    result = runner.invoke(app, ["ingest", str(tmp_path), "--dry-run"])
    assert result.exit_code == 2 and "--dry-run goes with --prune" in result.output
