"""Idempotent ingestion: files -> chunks -> index, driven by LangChain's indexing API.

A SQL record manager (``<data_dir>/record_manager.sqlite``) remembers a hash of every chunk
written, so re-ingesting unchanged files writes nothing, a changed file has its old chunks
replaced, and ``cleanup="full"`` removes the chunks of files that are no longer given.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from langchain_core.embeddings import Embeddings

from tools.chunking import chunk_documents
from tools.language import detect_language
from tools.loaders import LoaderError, iter_files, load_file

RECORD_NAMESPACE = "lancedb/chunks"
RECORD_DB = "record_manager.sqlite"
LANGUAGE_SAMPLE_CHUNKS = 40  # chunk texts sampled for corpus-language detection
LANGUAGE_SAMPLE_CHARS = 6000

Cleanup = Literal["incremental", "full"] | None
ProgressFn = Callable[[int, int, Path], None]


@dataclass
class IngestReport:
    """What one ingest run did.

    ``files_ok`` counts files loaded and indexed; ``files_failed`` lists ``(path, message)``
    for files skipped with an error. ``num_*`` are the indexing API's chunk counts (a changed
    file shows up as added + deleted chunks); ``chunks_total`` is the index size afterwards.
    """

    files_ok: int = 0
    files_failed: list[tuple[str, str]] = field(default_factory=list)
    num_added: int = 0
    num_updated: int = 0
    num_skipped: int = 0
    num_deleted: int = 0
    chunks_total: int = 0
    language: str = "en"
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """Whether the index content changed."""
        return bool(self.num_added or self.num_updated or self.num_deleted)

    def summary(self) -> str:
        """One line for the CLI."""
        failed = f", {len(self.files_failed)} failed" if self.files_failed else ""
        return (
            f"{self.files_ok} files ok{failed}; chunks: {self.num_added} added, "
            f"{self.num_updated} updated, {self.num_skipped} unchanged, {self.num_deleted} "
            f"deleted; {self.chunks_total} in index; language {self.language}; "
            f"{self.seconds:.1f}s"
        )


def _record_manager(data_dir: Path, namespace: str = RECORD_NAMESPACE):
    from langchain_classic.indexes import SQLRecordManager

    manager = SQLRecordManager(namespace=namespace, db_url=f"sqlite:///{data_dir / RECORD_DB}")
    manager.create_schema()
    return manager


def _full_cleanup(record_manager, store, run_start: float, keep_sources: list[str]) -> int:
    """Delete chunks not written or confirmed since ``run_start`` (except ``keep_sources``).

    Files that failed to load this run keep their previous chunks: a transient error (a file
    being written, a permission hiccup) should not wipe a document from the index.
    """
    stale = set(record_manager.list_keys(before=run_start))
    if keep_sources:
        stale -= set(record_manager.list_keys(before=run_start, group_ids=keep_sources))
    keys = sorted(stale)
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        store.delete(batch)
        record_manager.delete_keys(batch)
    return len(keys)


def ingest(
    paths: Iterable[str | os.PathLike],
    data_dir: str | os.PathLike,
    embeddings: Embeddings | None = None,
    *,
    cleanup: Cleanup = "incremental",
    chunk_tokens: int = 800,
    overlap_tokens: int = 80,
    on_progress: ProgressFn | None = None,
    backend: str | None = None,
) -> IngestReport:
    """Load, chunk and index the files under ``paths`` into the index in ``data_dir``.

    ``cleanup``: ``"incremental"`` replaces the chunks of changed files; ``"full"`` also
    deletes chunks of files not ingested in this run; ``None`` only adds. A file that cannot
    be loaded is listed in ``IngestReport.files_failed`` and the others are still ingested.
    On the first ingest into an empty index the corpus language is detected and recorded.
    ``on_progress(done_files, total_files, path)`` is called after each file.
    ``backend`` (default ``$ARAG_INDEX``, else ``"lancedb"``) picks the index; with
    ``"weaviate"`` the chunks go to the server named by ``WeaviateSettings.from_env()`` and
    only the record manager stays in ``data_dir``.
    """
    from langchain_classic.indexes import index as run_index

    from tools.embeddings import load_embeddings
    from tools.index import open_index

    started = time.perf_counter()
    if cleanup not in ("incremental", "full", None):
        raise ValueError(f"cleanup must be 'incremental', 'full' or None, not {cleanup!r}")
    embeddings = embeddings or load_embeddings()
    store = open_index(
        data_dir,
        embeddings,
        backend=backend or os.environ.get("ARAG_INDEX") or "lancedb",
        create=True,
    )
    with contextlib.closing(store) if hasattr(store, "close") else contextlib.nullcontext():
        local_dir = Path(data_dir).expanduser().resolve()
        local_dir.mkdir(parents=True, exist_ok=True)
        namespace = getattr(store, "record_namespace", RECORD_NAMESPACE)
        record_manager = _record_manager(local_dir, namespace)
        run_start = record_manager.get_time()
        was_empty = store.count() == 0

        report = IngestReport(language=store.meta.language)
        files = list(iter_files(paths))
        samples: list[str] = []
        for done, path in enumerate(files, start=1):
            try:
                chunks = chunk_documents(
                    load_file(path), chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens
                )
            except LoaderError as exc:
                report.files_failed.append((str(path), exc.reason))
            else:
                # One index() call per file: incremental cleanup then sees all of the file's
                # chunks at once (split across batches, unchanged chunks would be deleted and
                # re-added). "full" cleanup is done once at the end, across all files.
                result = run_index(
                    chunks,
                    record_manager,
                    store,
                    batch_size=max(1, len(chunks)),
                    cleanup="incremental" if cleanup else None,
                    source_id_key="source",
                    key_encoder="sha256",
                )
                report.files_ok += 1
                report.num_added += result["num_added"]
                report.num_updated += result["num_updated"]
                report.num_skipped += result["num_skipped"]
                report.num_deleted += result["num_deleted"]
                if len(samples) < LANGUAGE_SAMPLE_CHUNKS:
                    samples.extend(c.page_content[:500] for c in chunks[:3])
            if on_progress:
                on_progress(done, len(files), path)

        if cleanup == "full":
            keep = [source for source, _ in report.files_failed]
            report.num_deleted += _full_cleanup(record_manager, store, run_start, keep)

        if was_empty and samples:
            store.set_language(detect_language(" ".join(samples)[:LANGUAGE_SAMPLE_CHARS]))
        report.language = store.meta.language
        if report.changed or (report.files_ok and not store.has_fts):
            store.refresh_fts()
        report.chunks_total = store.count()
        report.seconds = time.perf_counter() - started
        return report
