"""Idempotent ingestion: files -> chunks -> index, driven by LangChain's indexing API.

A SQL record manager (``<data_dir>/record_manager.sqlite``) remembers a hash of every chunk
written, so re-ingesting unchanged files writes nothing, a changed file has its old chunks
replaced, and ``cleanup="full"`` removes the chunks of files that are no longer given.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from tools.index.base import DiskFullError, disk_full_cause
from tools.index.filters import check_tag
from tools.ingest.chunking import chunk_documents
from tools.ingest.contextual import ContextStats, model_name
from tools.ingest.loaders import LoaderError, is_url, iter_files
from tools.ingest.lock import DEFAULT_WAIT_SECONDS, bump_generation, writer_lock
from tools.ingest.repair import RepairReport, repair_index
from tools.ingest.sources import load_source
from tools.text.language import detect_language, preload_identifier

if TYPE_CHECKING:
    from tools.index.weaviate import WeaviateSettings

RECORD_NAMESPACE = "lancedb/chunks"
RECORD_DB = "record_manager.sqlite"
CONTEXT_CACHE = "contextual_cache.sqlite"
INDEX_BATCH_CHUNKS = 2048  # chunks gathered (whole files) per indexing call
# Bump when chunking changes what it produces, so unchanged files are re-chunked once.
CHUNKER_VERSION = 5  # 5: paragraphs measured as they stand in a chunk, after a newline
LANGUAGE_SAMPLE_CHUNKS = 40  # chunk texts sampled for corpus-language detection
LANGUAGE_SAMPLE_CHARS = 6000

Cleanup = Literal["incremental", "full"] | None


class MissingInputError(ValueError):
    """A path given to ingest does not exist; nothing was created or changed."""


ProgressFn = Callable[[int, int, Path], None]


@dataclass
class IngestReport:
    """What one ingest run did.

    ``files_ok`` counts files loaded and indexed; ``files_failed`` lists ``(path, message)``
    for files skipped with an error; ``files_ignored`` lists files of unsupported types found
    while walking a directory (named explicitly, they fail instead). ``num_*`` are the
    indexing API's chunk counts (a changed file shows up as added + deleted chunks);
    ``chunks_total`` is the index size afterwards.
    """

    files_ok: int = 0
    files_failed: list[tuple[str, str]] = field(default_factory=list)
    files_ignored: list[str] = field(default_factory=list)
    num_added: int = 0
    num_updated: int = 0
    num_skipped: int = 0
    num_deleted: int = 0
    chunks_total: int = 0
    language: str = "en"
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    context: ContextStats = field(default_factory=ContextStats)
    repair: RepairReport = field(default_factory=RepairReport)

    @property
    def changed(self) -> bool:
        """Whether the index content changed."""
        return bool(self.num_added or self.num_updated or self.num_deleted)

    def summary(self) -> str:
        """One line for the CLI."""
        failed = f", {len(self.files_failed)} failed" if self.files_failed else ""
        if self.files_ignored:
            failed += f", {len(self.files_ignored)} ignored (unsupported type)"
        notes = "".join(f"\n{note}" for note in [*self.repair.lines(), *self.notes])
        files = "file" if self.files_ok == 1 else "files"
        return (
            f"{self.files_ok} {files} ok{failed}; chunks: {self.num_added} added, "
            f"{self.num_updated} updated, {self.num_skipped} unchanged, {self.num_deleted} "
            f"deleted; {self.chunks_total} in index; language {self.language}; "
            f"{self.seconds:.1f}s{notes}"
        )


def record_manager_for(data_dir: Path, namespace: str = RECORD_NAMESPACE):
    """The indexing API's SQL record manager of ``namespace`` in ``data_dir`` (schema ensured)."""
    from tools.ingest.records import RecordManager

    manager = RecordManager(namespace=namespace, db_url=f"sqlite:///{data_dir / RECORD_DB}")
    manager.create_schema()
    return manager


class FileFingerprints:
    """Per-file SHA-256 and ingest settings of the last successful ingest (sqlite table).

    Lets a re-ingest skip unchanged files before loading and chunking them, which dominate
    the cost of a run once the record manager makes the writes idempotent.
    """

    def __init__(self, db_path: Path, namespace: str):
        self.db_path = db_path
        self.namespace = namespace
        with closing(sqlite3.connect(db_path, timeout=30)) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS arag_file_fingerprints (namespace TEXT, "
                "source TEXT, digest TEXT, params TEXT, PRIMARY KEY (namespace, source))"
            )

    def get(self, source: str) -> tuple[str, str] | None:
        """``(digest, params)`` recorded for ``source``, or ``None``."""
        with closing(sqlite3.connect(self.db_path, timeout=30)) as db:
            row = db.execute(
                "SELECT digest, params FROM arag_file_fingerprints "
                "WHERE namespace = ? AND source = ?",
                (self.namespace, source),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def all(self) -> dict[str, tuple[str, str]]:
        """Every ``source -> (digest, params)`` of this namespace, in one query."""
        with closing(sqlite3.connect(self.db_path, timeout=30)) as db:
            rows = db.execute(
                "SELECT source, digest, params FROM arag_file_fingerprints WHERE namespace = ?",
                (self.namespace,),
            ).fetchall()
        return {source: (digest, params) for source, digest, params in rows}

    def forget_all(self) -> None:
        """Forget every fingerprint of this namespace: the next ingest of a file loads it."""
        with closing(sqlite3.connect(self.db_path, timeout=30)) as db, db:
            db.execute("DELETE FROM arag_file_fingerprints WHERE namespace = ?", (self.namespace,))

    def put(self, source: str, digest: str, params: str) -> None:
        """Record ``source``'s fingerprint (an empty digest forgets it)."""
        self.put_many([(source, digest, params)])

    def put_many(self, rows: list[tuple[str, str, str]]) -> None:
        """Record several ``(source, digest, params)`` in one transaction (one disk sync)."""
        if not rows:
            return
        with closing(sqlite3.connect(self.db_path, timeout=30)) as db, db:
            db.executemany(
                "INSERT OR REPLACE INTO arag_file_fingerprints VALUES (?, ?, ?, ?)",
                [(self.namespace, *row) for row in rows],
            )


def chunk_counts(record_manager) -> dict[str, int]:
    """Chunks recorded per source (group id), in one query.

    ``SQLRecordManager`` only lists keys one filter at a time; asking it per unchanged file
    cost ~3 ms each (a SQLAlchemy query), which dominated re-ingesting a large folder.
    """
    from langchain_classic.indexes._sql_record_manager import UpsertionRecord
    from sqlalchemy import func, select

    stmt = (
        select(UpsertionRecord.group_id, func.count())
        .where(UpsertionRecord.namespace == record_manager.namespace)
        .group_by(UpsertionRecord.group_id)
    )
    with record_manager.engine.connect() as conn:
        return {group: int(n) for group, n in conn.execute(stmt)}


def display_for(path: Path | str, roots: list[Path]) -> str:
    """A file's name for citations: its path under the folder it was found in, or the URL."""
    if is_url(path):
        return str(path)
    path = Path(path)
    for root in roots:
        if root.is_dir() and root in path.parents:
            return path.relative_to(root).as_posix()
    return path.name


def _file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes ("" when unreadable: the loader reports the error)."""
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return ""


def _fingerprint_params(
    store, chunk_tokens: int, overlap_tokens: int, llm, tags: tuple[str, ...] = ()
) -> str:
    embedding = getattr(store.meta, "embedding_model", "")
    context = model_name(llm) if llm is not None else ""
    params = f"v{CHUNKER_VERSION}|{chunk_tokens}|{overlap_tokens}|{embedding}|{context}"
    # Other tags are other metadata: the file is re-chunked and its chunks rewritten.
    return params + (f"|tags={','.join(tags)}" if tags else "")


def _file_type(path: Path | str, loaded: list) -> str:
    """A document's type for filters: its extension (a URL's: from its content type)."""
    recorded = loaded[0].metadata.get("file_type") if loaded else None
    if recorded:
        return str(recorded)
    return Path(str(path)).suffix.lower().lstrip(".") or "txt"


def _full_cleanup(record_manager, store, run_start: float, keep_sources: list[str]) -> int:
    """Delete chunks not written or confirmed since ``run_start`` (except ``keep_sources``).

    Files that failed to load this run keep their previous chunks: a transient error (a file
    being written, a permission hiccup) should not wipe a document from the index. So do
    files skipped as unchanged (their chunks are current, only not re-written).
    """
    stale = set(record_manager.list_keys(before=run_start))
    for start in range(0, len(keep_sources), 500):  # bounded SQL "IN (...)" lists
        batch = keep_sources[start : start + 500]
        stale -= set(record_manager.list_keys(before=run_start, group_ids=batch))
    keys = sorted(stale)
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        store.delete(batch)
        record_manager.delete_keys(batch)
    return len(keys)


def _repair(store, record_manager, fingerprints: FileFingerprints, *, full: bool):
    """:func:`repair_index`, then forget the fingerprints of files with missing chunks."""
    report = repair_index(store, record_manager, full=full)
    fingerprints.put_many([(source, "", "") for source in report.missing])
    return report


def repair(
    data_dir: str | os.PathLike,
    embeddings: Embeddings,
    *,
    backend: str = "lancedb",
    weaviate: WeaviateSettings | None = None,
    wait: float = DEFAULT_WAIT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
) -> RepairReport:
    """Check every row of an existing index against the record manager and fix what is off.

    See :mod:`tools.ingest.repair`. Holds the writer lock; raises ``IndexNotFoundError`` when
    there is no index (a repair never creates one).
    """
    from tools.index import open_index

    with writer_lock(data_dir, wait=wait, on_wait=on_wait, create=False):
        store = open_index(data_dir, embeddings, backend=backend, weaviate=weaviate)
        with contextlib.closing(store):
            local_dir = Path(data_dir).expanduser().resolve()
            record_manager = record_manager_for(local_dir, store.record_namespace)
            fingerprints = FileFingerprints(local_dir / RECORD_DB, store.record_namespace)
            report = _repair(store, record_manager, fingerprints, full=True)
            report.chunks_total = store.count()
        if report.changed:
            bump_generation(data_dir)
    return report


def ingest(
    paths: Iterable[str | os.PathLike],
    data_dir: str | os.PathLike,
    embeddings: Embeddings | None = None,
    *,
    cleanup: Cleanup = "incremental",
    chunk_tokens: int = 800,
    overlap_tokens: int = 80,
    on_progress: ProgressFn | None = None,
    backend: str = "lancedb",
    weaviate: WeaviateSettings | None = None,
    contextual: bool = False,
    chat_model: BaseChatModel | None = None,
    repair: bool = False,
    tags: Iterable[str] = (),
    wait: float = DEFAULT_WAIT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
) -> IngestReport:
    """Load, chunk and index the files under ``paths`` into the index in ``data_dir``.

    ``cleanup``: ``"incremental"`` replaces the chunks of changed files; ``"full"`` also
    deletes chunks of files not ingested in this run; ``None`` only adds. A file that cannot
    be loaded is listed in ``IngestReport.files_failed`` and the others are still ingested.
    On the first ingest into an empty index the corpus language is detected and recorded
    before the first chunk is written (so a run killed mid-way leaves it recorded).
    ``on_progress(done_files, total_files, path)`` is called after each file.
    ``backend`` (``Context.index_backend``; default ``"lancedb"``) picks the index; with
    ``"weaviate"`` the chunks go to the server named by ``WeaviateSettings.from_env()`` and
    only the record manager stays in ``data_dir`` (``weaviate`` names another server or tenant,
    e.g. a workspace's: :func:`tools.workspaces.workspace_tenant`).

    Files whose bytes and settings are unchanged since their last ingest are skipped before
    loading (their chunks are only confirmed in the record manager). ``contextual=True``
    prepends an LLM-written context to each chunk (:mod:`tools.ingest.contextual`, cached in
    ``data_dir``); without ``chat_model`` it is skipped with a note in ``IngestReport.notes``.

    Every chunk records what document filters read (:mod:`tools.index.filters`): its
    document's ``display`` path, ``file_type`` and ``tags`` (checked: a bad tag raises
    ``FilterError`` before anything is opened); the index adds ``ingested_at``.
    """
    from tools.embeddings import load_embeddings
    from tools.index import open_index

    started = time.perf_counter()
    if cleanup not in ("incremental", "full", None):
        raise ValueError(f"cleanup must be 'incremental', 'full' or None, not {cleanup!r}")
    paths = list(paths)
    missing = [str(p) for p in paths if not is_url(p) and not Path(p).expanduser().exists()]
    if missing:  # before the index is opened: a typo must not create an empty index
        raise MissingInputError(f"no such file or directory: {', '.join(missing)}")
    tags = tuple(sorted({check_tag(t) for t in tags}))
    embeddings = embeddings or load_embeddings("wordllama")
    with writer_lock(data_dir, wait=wait, on_wait=on_wait):
        try:
            report = _ingest_locked(
                paths,
                data_dir,
                open_index(data_dir, embeddings, backend=backend, create=True, weaviate=weaviate),
                cleanup=cleanup,
                chunk_tokens=chunk_tokens,
                overlap_tokens=overlap_tokens,
                on_progress=on_progress,
                contextual=contextual,
                chat_model=chat_model,
                repair=repair,
                tags=tags,
            )
        except Exception as exc:
            if (cause := disk_full_cause(exc)) is None:
                raise
            with contextlib.suppress(OSError):  # earlier batches may be in: readers reload
                bump_generation(data_dir)
            raise DiskFullError(
                f"the disk holding {data_dir} is full ({cause}); the index keeps what was "
                "written before this write and stays usable. Free some space and run the "
                "same ingest again: files already indexed are skipped."
            ) from None
        if report.changed or report.repair.changed:
            bump_generation(data_dir)
    report.seconds = time.perf_counter() - started
    return report


def _ingest_locked(
    paths: list,
    data_dir: str | os.PathLike,
    store,
    *,
    cleanup: Cleanup,
    chunk_tokens: int,
    overlap_tokens: int,
    on_progress: ProgressFn | None,
    contextual: bool,
    chat_model: BaseChatModel | None,
    repair: bool,
    tags: tuple[str, ...] = (),
) -> IngestReport:
    """:func:`ingest` once the writer lock is held and ``store`` is open (closed on return)."""
    from langchain_classic.indexes import index as run_index

    from tools.index.lance import LanceIndex

    with contextlib.closing(store):
        local_dir = Path(data_dir).expanduser().resolve()
        local_dir.mkdir(parents=True, exist_ok=True)
        namespace = store.record_namespace
        record_manager = record_manager_for(local_dir, namespace)
        run_start = record_manager.get_time()
        fingerprints = FileFingerprints(local_dir / RECORD_DB, namespace)
        # Duplicates or orphans (two ingests at once before the writer lock, or a crash) are
        # removed first, so the counts and the reported index size are right.
        repaired = _repair(store, record_manager, fingerprints, full=repair)
        if isinstance(store, LanceIndex) and not store.has_filter_columns:
            # A table made before document filters: its files are loaded again whenever they
            # are next given (not skipped as unchanged), so their chunks get the metadata.
            # Forgotten first: a crash before the columns exist only repeats this.
            fingerprints.forget_all()
            store.add_filter_columns()
        was_empty = store.count() == 0
        if was_empty:
            preload_identifier()  # detect_language runs before the first write

        report = IngestReport(language=store.meta.language, repair=repaired)
        ignored: list[Path] = []
        files = list(iter_files(paths, ignored))
        roots = [Path(p).expanduser().absolute() for p in paths if not is_url(p)]
        report.files_ignored = [str(p) for p in ignored]
        samples: list[str] = []
        cache = None
        if contextual and chat_model is None:
            report.notes.append(
                "Contextual retrieval skipped: no LLM is configured (set ARAG_MODEL or an API "
                "key); chunks were indexed without LLM-written context."
            )
        elif contextual:
            from tools.ingest.contextual import ContextCache

            cache = ContextCache(local_dir / CONTEXT_CACHE)
        params = _fingerprint_params(
            store, chunk_tokens, overlap_tokens, chat_model if cache else None, tags
        )
        pending: list[tuple[Path, str, str, list]] = []  # (path, source, digest, chunks)
        # WordLlama embeds each chunk from the token ids its chunking measured (no second
        # tokenizing); contextual chunks change their text, so they are tokenized afresh.
        reuse = getattr(getattr(store, "embeddings", None), "known_token_ids", None)
        known_ids: dict[str, list[int]] | None = {} if reuse and cache is None else None
        language_set: list[bool] = []  # non-empty once flush() recorded the corpus language

        def flush() -> None:
            # Several files per index() call (fewer, larger embedding batches and writes);
            # a file's chunks never straddle calls, which incremental cleanup relies on.
            chunks = [c for _, _, _, file_chunks in pending for c in file_chunks]
            if chunks and was_empty and not language_set:
                # Before the first write: a run killed after it would leave a non-empty
                # index, and the next run (not was_empty) would never detect the language.
                store.set_language(detect_language(" ".join(samples)[:LANGUAGE_SAMPLE_CHARS]))
                language_set.append(True)
            if chunks:
                with reuse(known_ids) if known_ids is not None else contextlib.nullcontext():
                    result = run_index(
                        chunks,
                        record_manager,
                        store,
                        batch_size=len(chunks),
                        cleanup="incremental" if cleanup else None,
                        source_id_key="source",
                        key_encoder="sha256",
                    )
                if known_ids is not None:
                    known_ids.clear()
                report.num_added += result["num_added"]
                report.num_updated += result["num_updated"]
                report.num_skipped += result["num_skipped"]
                report.num_deleted += result["num_deleted"]
            # After the index write: a crash in between leaves the files unfingerprinted,
            # so the next run indexes them again (idempotently).
            fingerprints.put_many([(source, digest, params) for _, source, digest, _ in pending])
            pending.clear()

        # Read once: per-file look-ups cost a connection or a query each.
        known = {} if was_empty else fingerprints.all()
        recorded = chunk_counts(record_manager) if known else {}
        unchanged: list[str] = []
        for done, path in enumerate(files, start=1):
            # URLs are fetched every run (no digest); their chunks are still idempotent.
            source = path if is_url(path) else str(Path(path).expanduser().absolute())
            digest = "" if is_url(path) else _file_digest(path)
            if digest and recorded.get(source) and known.get(source) == (digest, params):
                # Unchanged since its last successful ingest with these settings: skip
                # loading, chunking, embedding and writing; full cleanup keeps its chunks.
                unchanged.append(source)
                report.files_ok += 1
                report.num_skipped += recorded[source]
                if on_progress:
                    on_progress(done, len(files), path)
                continue
            try:
                loaded = load_source(path)
                file_type = _file_type(path, loaded)
                for doc in loaded:  # what citations show: never the server's absolute path
                    doc.metadata["display"] = display_for(path, roots)
                    doc.metadata["file_type"] = file_type
                    if tags:
                        doc.metadata["tags"] = list(tags)
                chunks = chunk_documents(
                    loaded,
                    chunk_tokens=chunk_tokens,
                    overlap_tokens=overlap_tokens,
                    token_ids=known_ids,
                )
            except LoaderError as exc:
                report.files_failed.append((str(path), exc.reason))
            else:
                failed_before = report.context.failed
                if cache is not None:
                    from tools.ingest.contextual import contextualize

                    text = "\n\n".join(d.page_content for d in loaded)
                    chunks = contextualize(chunks, text, chat_model, cache, report.context)
                report.files_ok += 1
                if len(samples) < LANGUAGE_SAMPLE_CHUNKS:
                    samples.extend(c.page_content[:500] for c in chunks[:3])
                # A file with failed context calls is not fingerprinted: retried next run.
                complete = report.context.failed == failed_before
                pending.append((path, source, digest if complete else "", chunks))
                if sum(len(p[3]) for p in pending) >= INDEX_BATCH_CHUNKS:
                    flush()
            if on_progress:
                on_progress(done, len(files), path)
        flush()
        if cache is not None:
            ctx = report.context
            report.notes.append(
                f"Contextual retrieval: {ctx.generated} contexts written by the LLM, "
                f"{ctx.cached} from the cache, {ctx.failed} failed."
            )

        if cleanup == "full":
            keep = [source for source, _ in report.files_failed] + unchanged
            report.num_deleted += _full_cleanup(record_manager, store, run_start, keep)

        report.language = store.meta.language
        if report.changed or (report.files_ok and not store.has_fts):
            # LanceDB: builds or updates the BM25 and (from 50k rows) the ANN vector index.
            store.refresh_fts()
        report.chunks_total = store.count()
        return report
