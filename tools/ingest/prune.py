"""Prune: remove the chunks of files that are gone from under the folders an ingest was given.

``arag ingest DIR --prune`` means "DIR on disk is the truth": a file deleted from DIR loses its
chunks. Files elsewhere (ingested from another folder, or URLs) are never touched, and a file
that still exists keeps its chunks even when this run did not name it. ``dry_run`` reports what
would go without deleting anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from tools.ingest.loaders import is_url
from tools.ingest.lock import DEFAULT_WAIT_SECONDS, bump_generation, writer_lock
from tools.ingest.pipeline import RECORD_DB, FileFingerprints, chunk_counts, record_manager_for

if TYPE_CHECKING:
    from tools.index.weaviate import WeaviateSettings


@dataclass
class PruneReport:
    """The files whose chunks were (or, in a dry run, would be) removed."""

    gone: dict[str, int] = field(default_factory=dict)
    """``source -> chunks`` of every file gone from under the roots."""
    dry_run: bool = False

    @property
    def chunks(self) -> int:
        """Chunks removed (or that would be)."""
        return sum(self.gone.values())


def _under(source: str, roots: list[Path]) -> bool:
    path = Path(source)
    return any(path == root or root in path.parents for root in roots)


def prune_missing(
    paths: Iterable[str | os.PathLike],
    data_dir: str | os.PathLike,
    embeddings: Embeddings,
    *,
    backend: str = "lancedb",
    weaviate: WeaviateSettings | None = None,
    dry_run: bool = False,
    wait: float = DEFAULT_WAIT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
) -> PruneReport:
    """Remove (unless ``dry_run``) the chunks of files under ``paths`` that no longer exist.

    Holds the data directory's writer lock (:mod:`tools.ingest.lock`) and, when it deleted
    anything, bumps the index generation so running servers stop citing those files.
    """
    roots = [Path(p).expanduser().absolute() for p in paths if not is_url(p)]
    report = PruneReport(dry_run=dry_run)
    if not roots:
        return report
    with writer_lock(data_dir, wait=wait, on_wait=on_wait, create=False):
        _prune_locked(roots, data_dir, embeddings, backend, weaviate, report)
        if report.gone and not dry_run:
            bump_generation(data_dir)
    return report


def _prune_locked(
    roots: list[Path],
    data_dir,
    embeddings: Embeddings,
    backend: str,
    weaviate: WeaviateSettings | None,
    report: PruneReport,
) -> None:
    from tools.index import open_index

    local_dir = Path(data_dir).expanduser().resolve()
    store = open_index(data_dir, embeddings, backend=backend, weaviate=weaviate)
    with closing(store):
        record_manager = record_manager_for(local_dir, store.record_namespace)
        for source, count in sorted(chunk_counts(record_manager).items()):
            if (
                source
                and not is_url(source)
                and _under(source, roots)
                and not Path(source).exists()
            ):
                report.gone[source] = count
        if report.dry_run or not report.gone:
            return
        fingerprints = FileFingerprints(local_dir / RECORD_DB, store.record_namespace)
        for source in report.gone:
            keys = record_manager.list_keys(group_ids=[source])
            for start in range(0, len(keys), 1000):
                batch = keys[start : start + 1000]
                store.delete(batch)
                record_manager.delete_keys(batch)
            fingerprints.put(source, "", "")  # forgotten: a file put back is ingested anew
        store.refresh_fts()
