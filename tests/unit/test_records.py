"""The record manager's one-statement upsert writes what langchain's SQLRecordManager writes."""

from __future__ import annotations

import sqlite3

import pytest
from langchain_classic.indexes import SQLRecordManager

from tools.ingest.records import RecordManager


def _rows(db) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT key, namespace, group_id, updated_at, uuid FROM upsertion_record ORDER BY key"
        ).fetchall()


@pytest.mark.parametrize("first", [SQLRecordManager, RecordManager])
def test_upsert_matches_sqlrecordmanager_and_keeps_uuids_of_known_keys(tmp_path, first):
    theirs, ours = tmp_path / "theirs.db", tmp_path / "ours.db"
    managers = {}
    for cls, db in ((SQLRecordManager, theirs), (RecordManager, ours)):
        managers[cls] = cls(namespace="ns", db_url=f"sqlite:///{db}")
        managers[cls].create_schema()
    for cls in (first, *(c for c in managers if c is not first)):
        manager = managers[cls]
        manager.update(["a", "b"], group_ids=["s1", None])
        manager.update(["b", "c"], group_ids=["s2", "s2"])  # b changes group, c is new
    got = {cls: _rows(db) for cls, db in ((SQLRecordManager, theirs), (RecordManager, ours))}
    for rows in got.values():
        assert [(k, ns, g) for k, ns, g, _, _ in rows] == [
            ("a", "ns", "s1"),
            ("b", "ns", "s2"),
            ("c", "ns", "s2"),
        ]
        assert len({uuid for *_, uuid in rows}) == 3
        assert rows[1][3] >= rows[0][3]  # b's time is its second write's
    ours_manager = managers[RecordManager]
    before = {k: uuid for k, *_, uuid in _rows(ours)}
    ours_manager.update(["a"], group_ids=["s3"])
    assert {k: uuid for k, *_, uuid in _rows(ours)} == before  # known keys keep their uuid
    assert ours_manager.list_keys(group_ids=["s3"]) == ["a"]
    with pytest.raises(ValueError, match="does not match"):
        ours_manager.update(["x"], group_ids=[])
    with pytest.raises(AssertionError, match="Time sync"):
        ours_manager.update(["x"], time_at_least=ours_manager.get_time() + 3600)
