"""One writer per data directory, tested with real ``arag ingest`` processes.

Two ingests on one data directory used to store every chunk twice (LanceDB keeps duplicate
ids) and one of them could die on a commit conflict. Now the second waits for the first (or,
with ``--wait 0``, exits at once with a clear message), and a re-run or ``--repair`` removes
duplicates that an older version left behind.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from tools.ingest.lock import OWNER_FILE, writer_lock
from tools.ingest.pipeline import RECORD_DB

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

ROOT = Path(__file__).resolve().parents[2]
ARAG = [sys.executable, "-m", "arag"]


def write_corpus(root: Path, files: int = 12) -> None:
    root.mkdir(parents=True)
    for f in range(files):
        paragraphs = [
            f"Report {f} paragraph {p}: the harbour town {f * 100 + p} exports timber, "
            f"grain and wool to {p + 3} neighbouring ports every season."
            for p in range(30)
        ]
        (root / f"report{f:02d}.md").write_text(
            f"# Report {f}\n\n" + "\n\n".join(paragraphs), "utf-8"
        )


def env() -> dict[str, str]:
    return {**os.environ, "ARAG_MODEL": "offline", "PYTHONPATH": str(ROOT)}


def ingest_cmd(corpus: Path, data_dir: Path, *extra: str) -> list[str]:
    return [
        *ARAG,
        "ingest",
        str(corpus),
        "--data-dir",
        str(data_dir),
        "--chunk-tokens",
        "60",
        *extra,
    ]


def table_ids(data_dir: Path) -> list[str]:
    import lancedb

    table = lancedb.connect(str(data_dir / "lancedb")).open_table("chunks")
    return table.to_arrow().column("id").to_pylist()


def recorded_keys(data_dir: Path) -> set[str]:
    with closing(sqlite3.connect(data_dir / RECORD_DB)) as db:
        return {k for (k,) in db.execute("SELECT key FROM upsertion_record")}


def index_size(output: str) -> int:
    # "...; 372 in index; ..." from the summary line
    return int(output.split(" in index")[0].rsplit(";", 1)[1].strip())


def test_a_second_ingest_waits_for_the_first_and_nothing_is_stored_twice(tmp_path, fault_ledger):
    corpus, data_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    with fault_ledger.fault("ingest", "two concurrent ingests on one data directory") as f:
        first = subprocess.Popen(
            ingest_cmd(corpus, data_dir),
            env=env(),
            cwd=ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not (data_dir / OWNER_FILE).exists():  # the first holds the lock
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first ingest never took the lock"
            time.sleep(0.05)
        second = subprocess.run(
            ingest_cmd(corpus, data_dir),
            env=env(),
            cwd=ROOT,
            text=True,
            capture_output=True,
            timeout=240,
        )
        out1, err1 = first.communicate(timeout=240)

        ids = table_ids(data_dir)
        f.observe("exit codes", (first.returncode, second.returncode), expected=(0, 0))
        f.observe(
            "second ingest said it waited",
            "another ingest is running" in second.stderr,
            expected=True,
        )
        f.observe("traceback printed", "Traceback" in err1 + second.stderr, expected=False)
        f.observe("duplicate rows", len(ids) - len(set(ids)), expected=0)
        f.observe("rows without a record", len(set(ids) ^ recorded_keys(data_dir)), expected=0)
        f.observe(
            "reported index size",
            (index_size(out1), index_size(second.stdout)),
            expected=(len(ids), len(ids)),
        )
        assert "0 added" in second.stdout  # the second found everything already there


def test_with_wait_0_a_busy_data_directory_is_one_clear_line_and_changes_nothing(
    tmp_path, fault_ledger
):
    corpus, data_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, files=2)
    with fault_ledger.fault("ingest", "ingest while another holds the lock (--wait 0)") as f:
        with writer_lock(data_dir):
            busy = subprocess.run(
                ingest_cmd(corpus, data_dir, "--wait", "0"),
                env=env(),
                cwd=ROOT,
                text=True,
                capture_output=True,
                timeout=120,
            )
        f.observe("exit code", busy.returncode, expected=3)
        f.observe(
            "message",
            "another ingest is running" in busy.stderr and "nothing was changed" in busy.stderr,
            expected=True,
        )
        f.observe("traceback printed", "Traceback" in busy.stderr, expected=False)
        f.observe("index created", (data_dir / "lancedb").exists(), expected=False)


def duplicate_every_row(data_dir: Path) -> int:
    """What two unlocked ingests used to leave: every row appended a second time."""
    import lancedb

    table = lancedb.connect(str(data_dir / "lancedb")).open_table("chunks")
    rows = table.to_arrow()
    table.add(rows)
    return rows.num_rows


def test_a_re_run_removes_duplicates_and_reports_the_right_size(tmp_path, fault_ledger):
    corpus, data_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, files=3)
    clean = subprocess.run(
        ingest_cmd(corpus, data_dir), env=env(), cwd=ROOT, text=True, capture_output=True
    )
    assert clean.returncode == 0, clean.stderr
    chunks = duplicate_every_row(data_dir)
    assert len(table_ids(data_dir)) == 2 * chunks

    with fault_ledger.fault("ingest", "duplicate chunk rows from an unlocked ingest") as f:
        rerun = subprocess.run(
            ingest_cmd(corpus, data_dir), env=env(), cwd=ROOT, text=True, capture_output=True
        )
        ids = table_ids(data_dir)
        f.observe("exit code", rerun.returncode, expected=0)
        f.observe(
            "said what it removed",
            f"removed {chunks} duplicate chunk row(s)" in rerun.stdout,
            expected=True,
        )
        f.observe("rows", (len(ids), len(set(ids))), expected=(chunks, chunks))
        f.observe("reported index size", index_size(rerun.stdout), expected=chunks)


def test_repair_alone_fixes_duplicates_orphans_and_missing_chunks(tmp_path, fault_ledger):
    import lancedb

    corpus, data_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, files=3)
    clean = subprocess.run(
        ingest_cmd(corpus, data_dir), env=env(), cwd=ROOT, text=True, capture_output=True
    )
    assert clean.returncode == 0, clean.stderr
    table = lancedb.connect(str(data_dir / "lancedb")).open_table("chunks")
    rows = table.to_arrow()
    chunks = rows.num_rows
    missing_id = rows.column("id")[0].as_py()
    table.delete(f"id = '{missing_id}'")  # a recorded chunk lost from the table
    orphan = rows.slice(1, 1).to_pylist()[0] | {"id": "orphan-row"}
    table.add([orphan])  # a row no ingest recorded
    table.add(rows.slice(2, 5))  # five duplicates

    with fault_ledger.fault("ingest", "duplicates, orphans and missing chunks (--repair)") as f:
        repaired = subprocess.run(
            [*ARAG, "ingest", "--repair", "--data-dir", str(data_dir)],
            env=env(),
            cwd=ROOT,
            text=True,
            capture_output=True,
        )
        f.observe("exit code", repaired.returncode, expected=0)
        f.observe(
            "report",
            [
                "removed 5 duplicate chunk row(s)" in repaired.stdout,
                "removed 1 orphan row(s)" in repaired.stdout,
                "1 chunk(s) of" in repaired.stdout and "ingest it again" in repaired.stdout,
            ],
            expected=[True, True, True],
        )
        ids = table_ids(data_dir)
        f.observe("rows after repair", (len(ids), len(set(ids))), expected=(chunks - 1,) * 2)
        # The missing chunk's file is ingested again by the next run.
        rerun = subprocess.run(
            ingest_cmd(corpus, data_dir), env=env(), cwd=ROOT, text=True, capture_output=True
        )
        ids = table_ids(data_dir)
        f.observe(
            "rows after re-ingest", sorted(ids), expected=sorted(rows.column("id").to_pylist())
        )
        f.observe("reported index size", index_size(rerun.stdout), expected=chunks)
