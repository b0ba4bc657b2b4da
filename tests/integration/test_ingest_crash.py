"""Crash safety: SIGKILL `ingest` at random points, run it again, get exactly a clean index.

A synthetic German corpus (German, so that a skipped corpus-language detection would show) is
ingested once cleanly as the reference. Then, for each kill point, a fresh data directory is
ingested by a separate process that is killed with SIGKILL after a random delay (stratified
over the duration of a clean run, so kills land before, inside and after the index writes),
and the ingest is run again to completion. The result must equal the reference: the same
chunk ids with the same content hashes, no duplicates, the record manager's keys equal to the
index's ids, every file fingerprinted, the same corpus language and a BM25 index.

Sizes come from the environment: ``ARAG_CRASH_CHUNKS`` (default 400) and ``ARAG_CRASH_KILLS``
(default 2); ``make reliability`` runs 5,000 chunks and 20 kill points.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from tools.ingest.pipeline import RECORD_DB, ingest

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

ROOT = Path(__file__).resolve().parents[2]
CHUNKS = int(os.environ.get("ARAG_CRASH_CHUNKS", "400"))
KILLS = int(os.environ.get("ARAG_CRASH_KILLS", "2"))
CHUNK_TOKENS = 100
PARAGRAPHS = 20  # per file; gives ~41 chunks of 100 tokens
SEED = 20240607

SENTENCES = [
    "Die Stadt liegt am Ufer des Flusses und hat einen alten Hafen",
    "Im Winter fällt in den Bergen viel Schnee und die Straßen sind gesperrt",
    "Die Bibliothek besitzt eine große Sammlung mittelalterlicher Handschriften",
    "Der Bahnhof wurde im neunzehnten Jahrhundert gebaut und später erweitert",
    "Viele Menschen arbeiten in der Landwirtschaft oder im Handwerk",
    "Auf dem Marktplatz steht ein Brunnen aus dem sechzehnten Jahrhundert",
]

# The killed process. Imports first, then says "started" so delays measure ingest work only.
# ARAG_KILL_AT="name:before|after:n" makes it SIGKILL itself around the n-th call of one of
# the write boundaries below; it always prints how often each boundary was called.
WORKER = """
import json, os, signal, sys
from tools.embeddings import load_embeddings
from tools.index.lance import LanceIndex
from tools.ingest import pipeline as ingest_module
from tools.ingest.records import RecordManager
BOUNDARIES = {
    "index.add": (LanceIndex, "add_documents"),
    "records.update": (RecordManager, "update"),
    "fingerprints.put": (ingest_module.FileFingerprints, "put_many"),
    "index.set_language": (LanceIndex, "set_language"),
    "index.optimize": (LanceIndex, "optimize"),
}
calls = dict.fromkeys(BOUNDARIES, 0)
target = os.environ.get("ARAG_KILL_AT", "::0").split(":")

def wrap(name, owner, attr):
    original = getattr(owner, attr)
    def boundary(*args, **kwargs):
        calls[name] += 1
        hit = target[0] == name and calls[name] == int(target[2])
        if hit and target[1] == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if hit and target[1] == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(owner, attr, boundary)

for name, (owner, attr) in BOUNDARIES.items():
    wrap(name, owner, attr)
embeddings = load_embeddings("wordllama")
print("started", flush=True)
report = ingest_module.ingest(
    [sys.argv[1]], sys.argv[2], embeddings, chunk_tokens=int(sys.argv[3]), overlap_tokens=0,
    on_progress=lambda done, total, path: print(f"progress {done}/{total}", flush=True),
)
print("calls", json.dumps(calls), flush=True)
print("done", report.chunks_total, flush=True)
"""


def write_corpus(root: Path, chunks: int) -> None:
    rng = random.Random(SEED)
    root.mkdir(parents=True)
    files = max(1, round(chunks / 41))
    for f in range(files):
        parts = [f"# Bericht {f}"]
        for _ in range(PARAGRAPHS):
            sentences = (f"{rng.choice(SENTENCES)} {rng.randrange(10**6)}" for _ in range(5))
            parts.append(". ".join(sentences) + ".")
        (root / f"bericht{f:04d}.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")


def snapshot(data_dir: Path) -> dict:
    """Everything a clean ingest determines: rows, record manager, fingerprints, language."""
    import lancedb

    from tools.index.lance import META_FILE, read_meta

    table = lancedb.connect(str(data_dir / "lancedb")).open_table("chunks")
    rows = table.to_arrow().select(["id", "text", "source", "chunk_id"]).to_pylist()
    with closing(sqlite3.connect(data_dir / RECORD_DB)) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM upsertion_record")]
        # A kill can land after the record manager made its tables, before the fingerprints'.
        tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        printed = (
            dict(db.execute("SELECT source, digest FROM arag_file_fingerprints"))
            if "arag_file_fingerprints" in tables
            else {}
        )
    return {
        "ids": [r["id"] for r in rows],
        "rows": {
            (r["id"], hashlib.sha256(r["text"].encode()).hexdigest(), r["source"], r["chunk_id"])
            for r in rows
        },
        "keys": keys,
        "fingerprints": printed,
        "language": read_meta(data_dir / META_FILE).language,
        "fts": any("text" in ix.columns for ix in table.list_indices()),
    }


def run_worker(
    corpus: Path, data_dir: Path, kill_after: float | None = None, kill_at: str = ""
) -> tuple[list[str], float]:
    """Run the ingest process; kill it ``kill_after`` s after it started ingesting.

    ``kill_at`` (``name:before|after:n``) makes it kill itself at a write boundary instead.
    Returns the lines it printed and the seconds from "started" to "done" (to its last line
    when killed).
    """
    env = {k: v for k, v in os.environ.items() if k != "ARAG_INDEX"}
    env["PYTHONPATH"] = str(ROOT)
    if kill_at:
        env["ARAG_KILL_AT"] = kill_at
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(corpus), str(data_dir), str(CHUNK_TOKENS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    started = threading.Event()
    lines: list[str] = []
    clock: list[float] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith(("started", "done")):
                clock.append(time.monotonic())
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(120), "the ingest process did not start within 120 s"
        if kill_after is not None:
            time.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    return lines, clock[-1] - clock[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict, float, dict]:
    """The corpus, a clean ingest's snapshot, its duration and its write-boundary call counts."""
    root = tmp_path_factory.mktemp("crash")
    corpus = root / "corpus"
    write_corpus(corpus, CHUNKS)
    lines, seconds = run_worker(corpus, root / "clean")
    assert lines[-1].startswith("done"), lines[-3:]
    calls = json.loads(lines[-2].removeprefix("calls "))
    clean = snapshot(root / "clean")
    assert len(clean["rows"]) >= CHUNKS * 0.9
    assert clean["language"] == "de"
    return corpus, clean, seconds, calls


@pytest.mark.timeout(900)
@pytest.mark.parametrize("point", range(KILLS))
def test_sigkill_then_rerun_leaves_exactly_the_clean_index(
    point, reference, tmp_path, embeddings, fault_ledger
):
    corpus, clean, seconds, calls = reference
    rng = random.Random(SEED + point)
    data_dir = tmp_path / "data"
    if point % 2 == 0:
        # Even points: at a write boundary (random boundary, side and call), where a wrong
        # order of writes would lose or duplicate chunks.
        name = rng.choice(sorted(n for n, count in calls.items() if count))
        side = rng.choice(["before", "after"])
        where = f"{name}:{side}:{rng.randint(1, calls[name])}"
        kill = {"kill_at": where}
    else:
        # Odd points: after a random delay, stratified over a clean run's duration, so kills
        # also land inside native writes (LanceDB, SQLite) between the boundaries.
        delay = seconds * (point + rng.random()) / KILLS
        where = f"{delay:.2f}s"
        kill = {"kill_after": delay}
    with fault_ledger.fault("ingest", "SIGKILL mid-ingest, then re-run") as fault:
        lines, _ = run_worker(corpus, data_dir, **kill)
        for _ in range(4):  # a busy machine runs slower: halve a delay that came too late
            if not lines[-1].startswith("done") or "kill_after" not in kill:
                break
            shutil.rmtree(data_dir)
            kill["kill_after"] /= 2
            where = f"{kill['kill_after']:.2f}s"
            lines, _ = run_worker(corpus, data_dir, **kill)
        fault.observe(
            str(f"the kill at {where} came too late"),
            bool(not lines[-1].startswith("done")),
            expected=True,
        )
        last = lines[-1]
        killed = snapshot(data_dir) if (data_dir / RECORD_DB).exists() else None
        state = (
            f"{len(killed['ids'])} rows, {len(killed['keys'])} record keys"
            if killed
            else "nothing written"
        )
        print(f"kill point {point}: SIGKILL at {where}, last output {last!r}; {state}")
        report = ingest(
            [str(corpus)], str(data_dir), embeddings, chunk_tokens=CHUNK_TOKENS, overlap_tokens=0
        )
        fault.observe("not report.files_failed", bool(not report.files_failed), expected=True)
        after = snapshot(data_dir)
        missing = len(clean["rows"] - after["rows"])
        dupes = len(after["ids"]) - len(set(after["ids"]))
        fault.lost = missing + dupes
        fault.observe(str(f"{missing} chunks missing after the re-run"), missing, expected=0)
        fault.observe(str(f"{dupes} duplicate chunks after the re-run"), dupes, expected=0)
        fault.observe("chunks differ from a clean ingest", after["rows"], expected=clean["rows"])
        fault.observe(
            "record manager != index", sorted(after["keys"]), expected=sorted(after["ids"])
        )
        fault.observe(
            'after["fingerprints"] == clean["fingerprints"]',
            after["fingerprints"],
            expected=clean["fingerprints"],
        )
        fault.observe(
            'after["language"] == clean["language"]', after["language"], expected=clean["language"]
        )
        fault.observe('after["fts"]', bool(after["fts"]), expected=True)
        fault.observe(
            'report.chunks_total == len(clean["rows"])',
            report.chunks_total,
            expected=len(clean["rows"]),
        )
