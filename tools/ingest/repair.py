"""Repair: make the index hold exactly one row per chunk the record manager knows.

What can go wrong without the writer lock (:mod:`tools.ingest.lock`), or after a crash:

- **duplicates**: two ingests each appended the same chunk, so LanceDB holds several rows
  with one id (search then returns the chunk twice and the index size is wrong);
- **orphans**: rows whose id the record manager does not know (a run killed between the
  index write and the record update); nothing would ever delete them;
- **missing**: ids the record manager knows with no row in the index. Their keys are
  forgotten so the next ingest of their files writes them again (the caller also forgets
  the files' fingerprints, which would otherwise skip them as unchanged).

Duplicates and orphans are deleted by ``_rowid`` in one pass, so one copy of each chunk is
kept and no chunk the record manager knows is ever removed. Only the LanceDB backend can
hold duplicates (Weaviate keys objects by UUID); other backends get an empty report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RepairReport:
    """What :func:`repair_index` found and did."""

    checked: bool = False
    """Whether the rows were compared with the record manager (skipped when the counts agree)."""
    duplicates: int = 0
    """Extra copies of chunks removed."""
    orphans: int = 0
    """Rows no record manager key refers to, removed."""
    missing: dict[str, int] = field(default_factory=dict)
    """``source -> chunks`` recorded but absent from the index; re-ingest those files."""
    chunks_total: int = 0
    """Rows in the index afterwards (set by :func:`tools.ingest.pipeline.repair`)."""

    @property
    def changed(self) -> bool:
        """Whether the repair changed the index or the record manager."""
        return bool(self.duplicates or self.orphans or self.missing)

    def lines(self) -> list[str]:
        """What was done, one line each (empty when nothing was wrong)."""
        out = []
        if self.duplicates:
            out.append(f"repair: removed {self.duplicates} duplicate chunk row(s)")
        if self.orphans:
            out.append(f"repair: removed {self.orphans} orphan row(s) no ingest recorded")
        for source, n in sorted(self.missing.items()):
            out.append(f"repair: {n} chunk(s) of {source} were missing; ingest it again")
        return out


def _recorded_count(record_manager) -> int:
    from langchain_classic.indexes._sql_record_manager import UpsertionRecord
    from sqlalchemy import func, select

    stmt = select(func.count()).where(UpsertionRecord.namespace == record_manager.namespace)
    with record_manager.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def _groups(record_manager, keys: set[str]) -> dict[str, list[str]]:
    """``source -> keys`` for ``keys`` (in bounded ``IN`` lists)."""
    from langchain_classic.indexes._sql_record_manager import UpsertionRecord
    from sqlalchemy import select

    found: dict[str, list[str]] = {}
    ordered = sorted(keys)
    with record_manager.engine.connect() as conn:
        for start in range(0, len(ordered), 500):
            stmt = select(UpsertionRecord.group_id, UpsertionRecord.key).where(
                UpsertionRecord.namespace == record_manager.namespace,
                UpsertionRecord.key.in_(ordered[start : start + 500]),
            )
            for group, key in conn.execute(stmt):
                found.setdefault(group or "", []).append(key)
    return found


def repair_index(store, record_manager, *, full: bool = False) -> RepairReport:
    """Remove duplicate and orphan rows and forget missing ones; the caller holds the lock.

    Without ``full``, the rows are only compared when the row count differs from the number
    of recorded keys (one count each), which is what duplicates always cause.
    """
    from tools.index.lance import LanceIndex

    report = RepairReport()
    if not isinstance(store, LanceIndex):
        return report
    if not full and store.count() == _recorded_count(record_manager):
        return report
    report.checked = True
    rows = store.row_ids()
    keys = set(record_manager.list_keys())
    seen: set[str] = set()
    doomed: list[int] = []
    for chunk_id, rowid in rows:
        if chunk_id in seen:
            report.duplicates += 1
            doomed.append(rowid)
        elif chunk_id not in keys:
            report.orphans += 1
            doomed.append(rowid)
        seen.add(chunk_id)
    if doomed:
        store.delete_rows(doomed)
    absent = keys - seen
    if absent:
        for source, group_keys in _groups(record_manager, absent).items():
            report.missing[source] = len(group_keys)
            record_manager.delete_keys(group_keys)
    if report.duplicates or report.orphans:
        store.refresh_fts()
    return report


def duplicate_rows(store) -> int:
    """Rows beyond the first of each id (0 for a healthy index); for checks and tests."""
    from tools.index.lance import LanceIndex

    if not isinstance(store, LanceIndex):
        return 0
    return sum(n - 1 for n in Counter(i for i, _ in store.row_ids()).values())
