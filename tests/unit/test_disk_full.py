"""A full disk is recognised in every form it reaches the caller in, and ingest says it in a line.

The real thing (a tmpfs filled up) is in ``tests/integration/test_faults_disk.py``; here the
forms that a tmpfs does not produce every time: SQLite's "database or disk is full" wrapped in
SQLAlchemy's error, whose message carries the SQL statement and its parameters.
"""

from __future__ import annotations

import errno
import sqlite3

import pytest
import sqlalchemy.exc

from tools.index.base import DiskFullError, disk_full_cause
from tools.ingest import pipeline


def sql_error() -> sqlalchemy.exc.OperationalError:
    params = [("secret-chunk-text", "lancedb/chunks", 1.0)] * 50
    return sqlalchemy.exc.OperationalError(
        "INSERT INTO upsertion_record (uuid, key) VALUES (?, ?)",
        params,
        sqlite3.OperationalError("database or disk is full"),
    )


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "Disk quota exceeded"),
        (
            RuntimeError("lance error: LanceError(IO): No space left on device (os error 28)"),
            "No space left on device",
        ),
        (sql_error(), "database or disk is full"),
        (ValueError("bad chunk"), None),
        (OSError(errno.EACCES, "Permission denied"), None),
    ],
)
def test_disk_full_is_recognised(error, cause):
    assert disk_full_cause(error) == cause


def test_a_wrapped_cause_is_found():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("write failed") from inner
    except RuntimeError as outer:
        assert disk_full_cause(outer) == "No space left on device"


def test_ingest_turns_a_full_record_database_into_one_clear_error(
    tmp_path, embeddings, monkeypatch
):
    doc = tmp_path / "a.md"
    doc.write_text("# A\n\nNikola Tesla died in 1943 in New York.\n")

    def full(self, rows):
        raise sql_error()

    monkeypatch.setattr(pipeline.FileFingerprints, "put_many", full)
    with pytest.raises(DiskFullError) as caught:
        pipeline.ingest([str(doc)], tmp_path / "data", embeddings)
    message = str(caught.value)
    assert "is full (database or disk is full)" in message
    assert "Free some space and run the same ingest again" in message
    assert "INSERT" not in message and "secret-chunk-text" not in message
    assert caught.value.__suppress_context__  # the SQL dump is not printed as its context
