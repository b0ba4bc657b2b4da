"""The indexing API's SQL record manager, with an upsert that is compiled once per batch.

``langchain_classic``'s ``SQLRecordManager.update`` upserts a batch as one multi-row
``INSERT ... VALUES (...), (...), ... ON CONFLICT DO UPDATE``: SQLAlchemy compiles a statement
with five bound parameters per key, and that compiling (and the garbage collections its objects
set off) was the largest single cost of an ingest after tokenizing (benchmarks/results/
ingest.md). :class:`RecordManager` sends the same rows to the same upsert as one
``executemany``: the statement is compiled once for a single row. Same table, same columns,
same conflict rule (a new key gets a fresh uuid; a known key keeps its uuid and gets the new
time and group), so records written by either class are read alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_classic.indexes import SQLRecordManager


class RecordManager(SQLRecordManager):
    """``SQLRecordManager`` whose SQLite :meth:`update` is one ``executemany``."""

    def update(
        self,
        keys: Sequence[str],
        *,
        group_ids: Sequence[str | None] | None = None,
        time_at_least: float | None = None,
    ) -> None:
        """Upsert ``keys`` (with their ``group_ids``) at the database's current time."""
        if self.dialect != "sqlite":
            super().update(keys, group_ids=group_ids, time_at_least=time_at_least)
            return
        from langchain_classic.indexes._sql_record_manager import UpsertionRecord
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        if group_ids is None:
            group_ids = [None] * len(keys)
        if len(keys) != len(group_ids):
            msg = f"Number of keys ({len(keys)}) does not match number of group_ids"
            msg += f" ({len(group_ids)})"
            raise ValueError(msg)
        # As the base class: the server's time, checked against time_at_least (clock skew
        # would otherwise let cleanup delete records written in this run).
        update_time = self.get_time()
        if time_at_least and update_time < time_at_least:
            msg = f"Time sync issue: {update_time} < {time_at_least}"
            raise AssertionError(msg)
        if not keys:
            return
        table = UpsertionRecord.__table__
        insert = sqlite_insert(table)
        stmt = insert.on_conflict_do_update(
            index_elements=[table.c.key, table.c.namespace],
            set_={"updated_at": insert.excluded.updated_at, "group_id": insert.excluded.group_id},
        )
        rows = [
            {"key": key, "namespace": self.namespace, "updated_at": update_time, "group_id": gid}
            for key, gid in zip(keys, group_ids, strict=True)
        ]
        with self._make_session() as session:
            session.execute(stmt, rows)  # executemany: the uuid default runs per new row
            session.commit()
