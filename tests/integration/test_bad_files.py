"""Bad files through `arag ingest`: one clear line each, the good files still ingested.

Covers zero bytes, binary content with a text extension, encrypted and corrupt PDFs, unknown
extensions (named explicitly, and met inside a folder), a symlink loop, a broken link, a
200 MB text file (refused before it is read: peak memory of the `arag ingest` process is
measured by the kernel) and a folder of 10,000 small files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arag.cli import app
from tests.unit.test_loaders import make_pdf

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

# name -> (content or a symlink target, expected message on its line, fault name)
BAD_FILES = {
    "zero.txt": (b"", "empty file (0 bytes)", "zero bytes"),
    "binary.txt": (
        b"\x7fELF\x02\x01\x01\x00\x00\x00" * 50,
        "looks like a binary file",
        "binary content, .txt extension",
    ),
    "encrypted.pdf": (
        make_pdf("Secret plans", password="hunter2"),
        "encrypted PDF",
        "encrypted PDF",
    ),
    "corrupt.pdf": (make_pdf("Cut in half")[:300], "corrupt or unreadable PDF", "corrupt PDF"),
    "loop_a.md": (Path("loop_b.md"), "symbolic link loop", "symlink loop"),
    "loop_b.md": (Path("loop_a.md"), "symbolic link loop", "symlink loop"),
    "dangling.md": (Path("gone.md"), "broken symbolic link to gone.md", "broken symlink"),
}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("ARAG_MODEL", "offline")


def build_folder(root: Path) -> Path:
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "okapi.md").write_text("# Okapi\n\nThe okapi is a giraffid of the Congo forest.\n")
    (docs / "sub" / "narwhal.txt").write_text("The narwhal has one long spiral tusk.\n")
    (docs / "sub" / "up").symlink_to(docs, target_is_directory=True)  # directory loop
    (docs / "report.xlsx").write_bytes(b"PK\x03\x04 not supported")
    for name, (content, _, _) in BAD_FILES.items():
        if isinstance(content, Path):
            (docs / name).symlink_to(content)
        else:
            (docs / name).write_bytes(content)
    return docs


def test_each_bad_file_gets_one_line_and_the_rest_ingest(tmp_path, fault_ledger):
    docs = build_folder(tmp_path)
    data_dir = tmp_path / "data"
    result = runner.invoke(app, ["ingest", str(docs), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name, (_, message, fault) in BAD_FILES.items():
        with fault_ledger.fault("ingest", f"bad file: {fault}") as observed:
            mine = [line for line in lines if f"/{name}:" in line]
            observed.observe(str((name, mine)), len(mine), expected=1)
            observed.observe(
                str(mine[0]),
                bool(mine[0].startswith("skipped ") and message in mine[0]),
                expected=True,
            )
    with fault_ledger.fault("ingest", "bad file: unknown extension in a folder") as observed:
        observed.observe(
            '[line for line in lines if "report.xlsx" in line] == [ f"ignored {d...',
            [line for line in lines if "report.xlsx" in line],
            expected=[f"ignored {docs / 'report.xlsx'}: unsupported file type"],
        )
    assert f"2 files ok, {len(BAD_FILES)} failed, 1 ignored (unsupported type)" in result.output
    assert "2 added" in result.output and "2 in index" in result.output
    for question, word in [("What is an okapi?", "Congo"), ("What does a narwhal have?", "tusk")]:
        ask = runner.invoke(app, ["ask", question, "--data-dir", str(data_dir), "--json"])
        assert word in json.loads(ask.stdout)["answer"]


def test_unknown_extension_named_explicitly(tmp_path, fault_ledger):
    path = tmp_path / "slides.key"
    path.write_bytes(b"keynote")
    with fault_ledger.fault("ingest", "bad file: unknown extension named explicitly") as observed:
        result = runner.invoke(app, ["ingest", str(path), "--data-dir", str(tmp_path / "d")])
        observed.observe(
            "result.exit_code == 1", result.exit_code, expected=1
        )  # nothing could be ingested
        observed.observe(
            "f\"skipped {path}: unsupported file type '.key'; supported: \" in res...",
            bool(f"skipped {path}: unsupported file type '.key'; supported: " in result.output),
            expected=True,
        )
        observed.observe(
            '"0 files ok, 1 failed" in result.output',
            bool("0 files ok, 1 failed" in result.output),
            expected=True,
        )


def _ingest_peak_rss(folder: Path, data_dir: Path) -> tuple[str, int]:
    """Run `arag ingest` in a child process; its output and peak RSS in bytes (kernel rusage)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARAG_MODEL": "offline"}
    env.pop("ARAG_MAX_FILE_MB", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "arag.cli", "ingest", str(folder), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    output = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, output
    return output, usage.ru_maxrss * 1024  # Linux reports KiB


def test_200mb_text_file_is_refused_and_memory_stays_bounded(tmp_path, fault_ledger):
    small = tmp_path / "small"
    small.mkdir()
    (small / "quokka.md").write_text("# Quokka\n\nThe quokka is a small wallaby.\n")
    big = tmp_path / "big"
    big.mkdir()
    (big / "quokka.md").write_text("# Quokka\n\nThe quokka is a small wallaby.\n")
    line = b"All work and no play makes Jack a dull boy. " * 23 + b"\n"
    block = (line * (2**20 // len(line) + 1))[: 2**20]
    with open(big / "huge.txt", "wb") as fh:
        for _ in range(200):
            fh.write(block)
    with fault_ledger.fault("ingest", "bad file: 200 MB text file") as observed:
        baseline_out, baseline = _ingest_peak_rss(small, tmp_path / "d1")
        output, peak = _ingest_peak_rss(big, tmp_path / "d2")
        print(f"peak RSS: {baseline / 2**20:.0f} MB without, {peak / 2**20:.0f} MB with it")
        huge = [line for line in output.splitlines() if "huge.txt" in line]
        observed.observe(
            "huge == [ f\"skipped {big / 'huge.txt'}: too large to ingest (200 MB...",
            huge,
            expected=[
                f"skipped {big / 'huge.txt'}: too large to ingest (200 MB; the limit is 32 MB): "
                "split it, or raise ARAG_MAX_FILE_MB"
            ],
        )
        observed.observe(
            '"1 file ok, 1 failed" in output and "1 in index" in output',
            bool("1 file ok, 1 failed" in output and "1 in index" in output),
            expected=True,
        )
        # Refused before reading: the 200 MB never enter memory (noise allowance 64 MB).
        observed.observe(
            "peak - baseline < 64 * 2**20", bool(peak - baseline < 64 * 2**20), expected=True
        )


def test_folder_of_10000_small_files(tmp_path, fault_ledger):
    docs = tmp_path / "notes"
    docs.mkdir()
    for i in range(10_000):
        (docs / f"note{i:05d}.md").write_text(f"# Note {i}\n\nNote {i} says the code is zq{i}x.\n")
    data_dir = tmp_path / "data"
    with fault_ledger.fault("ingest", "bad input: a folder of 10,000 small files") as observed:
        result = runner.invoke(app, ["ingest", str(docs), "--data-dir", str(data_dir)])
        observed.observe(str(result.output), result.exit_code, expected=0)
        observed.observe(
            '"10000 files ok; chunks: 10000 added" in result.output',
            bool("10000 files ok; chunks: 10000 added" in result.output),
            expected=True,
        )
        observed.observe(
            '"10000 in index" in result.output',
            bool("10000 in index" in result.output),
            expected=True,
        )
        again = runner.invoke(app, ["ingest", str(docs), "--data-dir", str(data_dir)])
        observed.observe(
            '"10000 files ok; chunks: 0 added, 0 updated, 10000 unchanged" in ag...',
            bool("10000 files ok; chunks: 0 added, 0 updated, 10000 unchanged" in again.output),
            expected=True,
        )
    ask = runner.invoke(
        app, ["ask", "Which note says zq7321x?", "--data-dir", str(data_dir), "--json"]
    )
    assert "zq7321x" in json.loads(ask.stdout)["answer"]
