"""A full disk, for real: the data directory on a tiny tmpfs that the test fills.

``mount -t tmpfs -o size=...`` gives a file system whose writes fail with ENOSPC exactly as a
full disk's do, through every layer (LanceDB's Rust writer, SQLite, Python); nothing is
patched. Mounting needs root (CAP_SYS_ADMIN): elsewhere the tests are skipped.

- ``arag ingest`` of a file too big for the disk prints one clear line (no traceback, no SQL
  parameter dump), exits 2, and leaves the index as it was and usable;
- ``arag serve`` answers a turn it cannot store with 507 and the cause, ``/readyz`` reports the
  disk, and both recover once space is freed.
"""

from __future__ import annotations

import errno
import random
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving import ROOT, arag_serve, server_env

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

SAMPLE = ROOT / "arag" / "sample_corpus"


@pytest.fixture
def tiny_disk(tmp_path) -> Iterator[Callable[[str], Path]]:
    """``make(size)``: a fresh tmpfs of ``size`` (e.g. "3m") under ``tmp_path``; unmounted after."""
    mounted: list[Path] = []

    def make(size: str) -> Path:
        where = tmp_path / f"disk-{len(mounted)}"
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def arag(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "arag.cli", *args, "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=server_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses (ENOSPC); the file, to delete for space again."""
    filler = disk / "filler.bin"
    block = b"\0" * 65536
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(block)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    assert shutil.disk_usage(disk).free < 65536
    return filler


def test_a_full_disk_during_ingest_is_one_line_and_the_index_survives(
    tmp_path, tiny_disk, fault_ledger
):
    disk = tiny_disk("3m")
    data = disk / "data"
    small = SAMPLE / "nikola_tesla.md"
    first = arag("ingest", str(small), data_dir=data)
    assert first.returncode == 0, first.stderr
    assert "in index" in first.stdout
    indexed = first.stdout.split("chunks: ")[1].split(" added")[0]
    # ~2 MB of text: its chunks and embeddings do not fit in what is left of the 3 MB disk.
    rng = random.Random(7)
    words = small.read_text().split()
    big = tmp_path / "big.md"
    big.write_text(
        "\n\n".join(" ".join(rng.choice(words) for _ in range(120)) + "." for _ in range(3000))
    )
    with fault_ledger.fault("ingest", "disk full mid-ingest (tmpfs)") as f:
        failed = arag("ingest", str(big), data_dir=data)
        f.observe("exit code", failed.returncode, expected=2)
        lines = [line for line in failed.stderr.splitlines() if line.strip()]
        f.observe("stderr lines", len(lines), expected=1)
        f.observe(
            "the line names the full disk",
            "is full (No space left on device)" in failed.stderr
            and "Free some space" in failed.stderr,
            expected=True,
        )
        f.observe(
            "no traceback or SQL in the output",
            any(s in failed.stderr + failed.stdout for s in ("Traceback", "INSERT", "[SQL")),
            expected=False,
        )
        # The index is as before and usable: the first file is still there, unchanged.
        again = arag("ingest", str(small), data_dir=data)
        f.observe("re-ingest of the first file, exit code", again.returncode, expected=0)
        f.observe(
            "the first file's chunks are intact",
            f"0 added, 0 updated, {indexed} unchanged" in again.stdout
            and f"{indexed} in index" in again.stdout,
            expected=True,
        )
        f.lost = 0 if f"{indexed} in index" in again.stdout else int(indexed)


def test_a_full_disk_under_the_server_is_507_and_readyz_says_so(
    sample_data_dir, tmp_path, tiny_disk, fault_ledger
):
    disk = tiny_disk("16m")
    data = disk / "data"
    shutil.copytree(sample_data_dir, data, ignore=shutil.ignore_patterns("threads.sqlite*"))
    with arag_serve(data, tmp_path) as server:

        def ask() -> httpx.Response:
            return httpx.post(
                server.url + "/v1/chat/completions",
                json={
                    "model": "adaptive-rag",
                    "messages": [{"role": "user", "content": "What year did Tesla die?"}],
                },
                headers={"X-Thread-Id": f"disk-{uuid.uuid4().hex[:8]}"},
                timeout=60,
            )

        with fault_ledger.fault("http", "disk full under arag serve (tmpfs)") as f:
            filler = fill(disk)
            reply = ask()
            f.observe("status of a turn that cannot be stored", reply.status_code, expected=507)
            error = reply.json().get("error") or {}
            f.observe("error code", error.get("code"), expected="disk_full")
            f.observe(
                "the message gives the cause",
                "disk is full" in error.get("message", ""),
                expected=True,
            )
            ready = httpx.get(server.url + "/readyz", timeout=10)
            f.observe("/readyz status", ready.status_code, expected=503)
            disk_check = ready.json()["checks"].get("disk", "")
            f.observe("/readyz disk check", disk_check.startswith("disk full:"), expected=True)
            filler.unlink()  # the operator frees space
            f.observe(
                "/readyz after freeing", httpx.get(server.url + "/readyz").status_code, expected=200
            )
            f.observe("a turn after freeing", ask().status_code, expected=200)
