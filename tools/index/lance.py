"""Embedded LanceDB backend: vectors, native BM25 full-text search and calibrated fusion.

Layout of a data directory::

    <data_dir>/index_meta.json   IndexMeta (embedding model, dimensions, corpus language)
    <data_dir>/lancedb/          LanceDB database holding the ``chunks`` table

``LanceIndex`` is a LangChain ``VectorStore`` (so the indexing API with a record manager can
drive it: ``add_documents`` upserts by id, ``delete`` removes by id) and implements
:class:`tools.index.base.HybridIndex`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from tools.embeddings import (
    embed_array,
    embedding_dimensions,
    embedding_languages,
    embedding_model_id,
)
from tools.index import memory_copy
from tools.index.base import (
    GENERATION_FILE,
    EmbeddingMismatchError,
    IndexCorruptedError,
    IndexError_,
    IndexMeta,
    IndexNotFoundError,
)
from tools.index.calibration import calibration_for
from tools.index.filters import DocFilter, stamp, tags_column
from tools.index.rerank import RERANK_DEPTH, Reranker
from tools.index.scoring import (
    DENSE_WEIGHT,
    Candidate,
    fuse,
    spaceless_share,
    split_scripts,
    term_set,
)

log = logging.getLogger(__name__)

TABLE = "chunks"
META_FILE = "index_meta.json"
DB_DIR = "lancedb"

EMBED_BATCH = 1024  # texts per embedding call
WRITE_BATCH = 8192  # rows per LanceDB write (each write adds a fragment; optimize compacts)
ID_BATCH = 500  # ids per SQL ``IN (...)`` filter
# From this many rows on, optimize() builds an ANN index on the vectors: exact search costs
# O(rows) per query and passes ~5 ms around 50k rows of 256-d vectors on 2 cores.
ANN_MIN_ROWS = 50_000
ANN_EF = 100  # HNSW search beam width (default 1.5 * limit)
ANN_REFINE = 2  # re-score this many times the limit with full vectors
_DOC_COLUMNS = ("id", "text", "source", "chunk_id", "title", "metadata")
# What document filters read (tools/index/filters.py); tables from before them lack these.
FILTER_COLUMNS = ("display", "tags", "file_type", "ingested_at")

# Languages written without spaces (or with particles glued to words): a word tokenizer would
# index whole phrases, so FTS uses character n-grams for them.
NGRAM_LANGUAGES = frozenset({"ko", "ja", "zh", "th"})
# Languages the FTS stemmer and stopword lists support (ISO 639-1 -> tantivy language name).
STEM_LANGUAGES = {
    "ar": "Arabic",
    "da": "Danish",
    "nl": "Dutch",
    "en": "English",
    "fi": "Finnish",
    "fr": "French",
    "de": "German",
    "el": "Greek",
    "hu": "Hungarian",
    "it": "Italian",
    "no": "Norwegian",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "es": "Spanish",
    "sv": "Swedish",
    "ta": "Tamil",
    "tr": "Turkish",
}
# Search-time keys, never stored (source, chunk_id and title are, so metadata round-trips).
_RESERVED = frozenset({"score", "dense", "lexical", "rank"})


LEXICAL_FAILED = "lexical_failed"
"""Metadata key on results of a search whose BM25 half failed: why (vector search alone)."""


class _NoRows(list):
    """No BM25 rows because the BM25 search failed; ``error`` says why."""

    def __init__(self, error: str):
        super().__init__()
        self.error = error


def _failure(row: dict) -> dict:
    """``{LEXICAL_FAILED: why}`` when ``row`` carries a BM25 failure, else ``{}``."""
    return {LEXICAL_FAILED: row[LEXICAL_FAILED]} if row.get(LEXICAL_FAILED) else {}


def _mark_failure(bm25_rows: list[dict], vector_rows: list[dict]) -> None:
    """Tag the vector rows with the BM25 failure, if there was one (see ``LEXICAL_FAILED``)."""
    if error := getattr(bm25_rows, "error", ""):
        for row in vector_rows:
            row[LEXICAL_FAILED] = error


def _bm25_language(language: str) -> tuple[str | None, str | None]:
    """``(language, Snowball stemmer)`` for :func:`tools.index.bm25.tokenizer`, as FTS has it.

    Korean keeps its code: its in-process BM25 adds morphemes to the bigrams (measured in
    ``benchmarks/results/korean.md``).
    """
    if language == "ko":
        return "ko", None
    if language in NGRAM_LANGUAGES:
        return None, None
    return language, STEM_LANGUAGES.get(language)


class IndexPermissionError(IndexCorruptedError):
    """The index files exist but this user may not read or write them."""


class IndexFiltersUnsupportedError(IndexError_):
    """A filtered search over a table made before filters (it lacks their columns)."""


def _sql_list(ids: Sequence[str]) -> str:
    return ", ".join("'" + str(i).replace("'", "''") + "'" for i in ids)


def _cosine(vector: Sequence[float], qvec: np.ndarray) -> float:
    vec = np.asarray(vector, dtype=np.float32)
    denom = float(np.linalg.norm(vec)) * float(np.linalg.norm(qvec))
    return float(vec @ qvec) / denom if denom > 0 else 0.0


def _terms(row: dict) -> frozenset[str] | None:
    terms = row.get("terms")
    return frozenset(terms.split()) if terms is not None else None


def _rowid(row: dict) -> dict:
    return {"_rowid": row["_rowid"]} if row.get("_rowid") is not None else {}


def _batches(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_meta(path: Path) -> IndexMeta:
    """Read ``index_meta.json``; unreadable or malformed files raise an ``IndexError_``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return IndexMeta(
            embedding_model=str(raw["embedding_model"]),
            dimensions=int(raw["dimensions"]),
            language=str(raw.get("language", "en")),
            backend=str(raw.get("backend", "lancedb")),
            calibration=dict(raw.get("calibration") or {}),
        )
    except PermissionError as exc:
        raise IndexPermissionError(
            f"Cannot read {path}: permission denied. Fix the file permissions or use another "
            "data dir."
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptedError(
            f"Index metadata {path} is unreadable ({exc.__class__.__name__}: {exc}). "
            f"Delete {path.parent} and run `arag ingest PATH` again."
        ) from exc


def write_meta(path: Path, meta: IndexMeta) -> None:
    """Write ``index_meta.json`` atomically (temp file in the same dir, then ``os.replace``)."""
    fd, tmp = tempfile.mkstemp(prefix=".index_meta.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(meta.to_dict(), fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LanceIndex(VectorStore):
    """Hybrid (BM25 + vector) chunk index in an embedded LanceDB table.

    Use :meth:`open` rather than the constructor. One connection and one table handle are
    shared by all threads; LanceDB reads are thread-safe, writes are serialised by a lock.
    """

    def __init__(self, data_dir: Path, embeddings: Embeddings, meta: IndexMeta, db, table):
        self.data_dir = data_dir
        self.meta = meta
        self._embeddings = embeddings
        self._db = db
        self._table = table
        self._write_lock = threading.RLock()
        self._executor: ThreadPoolExecutor | None = None
        indices = self._indices()
        self._has_fts = "text" in indices
        self._has_ann = "vector" in indices
        self._fts_stale = False
        self._generation = self._generation_stamp()
        self._row_count: int | None = None
        # The in-memory copy searches use when ready (tools.index.memory_copy).
        self._memory = memory_copy.MemoryCopies(
            lambda: self._read_for_memory(), self._bm25_tokenizer
        )
        self._has_terms = "terms" in table.schema.names
        self._has_filters = set(FILTER_COLUMNS) <= set(table.schema.names)
        self._columns = [*_DOC_COLUMNS, "terms"] if self._has_terms else list(_DOC_COLUMNS)
        #: Optional :class:`tools.index.rerank.Reranker` applied to the fused results.
        self.reranker: Reranker | None = None
        #: True: vector search ignores the ANN index (exact cosine over every row), to measure
        #: what the ANN loses (``benchmarks/retrieval/exact_vs_ann.py``). Default: the index.
        self.exact_search = False

    record_namespace = "lancedb/chunks"
    """Namespace of this table's keys in the ingestion record manager."""

    def close(self) -> None:
        """Stop the BM25 worker threads; the LanceDB connection needs no closing."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        data_dir: str | os.PathLike,
        embeddings: Embeddings,
        *,
        create: bool = False,
        language: str | None = None,
    ) -> LanceIndex:
        """Open the index in ``data_dir`` (creating an empty one when ``create``).

        ``language`` is recorded only when a new index is created. Raises
        ``IndexNotFoundError`` (no index and not ``create``), ``EmbeddingMismatchError``
        (index built with other embeddings), ``IndexCorruptedError`` (unreadable files) or its
        subclass ``IndexPermissionError``.
        """
        import lancedb

        data_dir = Path(data_dir).expanduser().resolve()
        meta_path = data_dir / META_FILE
        model_id = embedding_model_id(embeddings)
        try:
            exists = meta_path.exists()
            if not exists:
                if not create:
                    raise IndexNotFoundError(
                        f"No index at {data_dir}. Run `arag ingest PATH` first."
                    )
                if (data_dir / DB_DIR / f"{TABLE}.lance").exists():
                    raise IndexCorruptedError(
                        f"{meta_path} is missing but {data_dir / DB_DIR} holds a table. "
                        f"Delete {data_dir} and run `arag ingest PATH` again."
                    )
                data_dir.mkdir(parents=True, exist_ok=True)
                meta = IndexMeta(
                    embedding_model=model_id,
                    dimensions=embedding_dimensions(embeddings),
                    language=language or "en",
                    calibration=calibration_for(model_id).to_dict(),
                )
                write_meta(meta_path, meta)
            else:
                meta = read_meta(meta_path)
                cls._check_embeddings(meta, embeddings, data_dir)
            db = lancedb.connect(str(data_dir / DB_DIR))
            table = cls._open_table(db, meta, data_dir, create=create or not exists)
        except IndexError_:
            raise
        except PermissionError as exc:
            raise IndexPermissionError(
                f"Cannot access the index at {data_dir}: permission denied ({exc.filename}). "
                "Fix the permissions or use another data dir."
            ) from exc
        return cls(data_dir, embeddings, meta, db, table)

    @staticmethod
    def _check_embeddings(meta: IndexMeta, embeddings: Embeddings, data_dir: Path) -> None:
        model_id = embedding_model_id(embeddings)
        if meta.embedding_model != model_id:
            raise EmbeddingMismatchError(
                f"The index at {data_dir} was built with embeddings {meta.embedding_model!r} "
                f"but {model_id!r} is configured. Re-ingest into a new data dir, or set "
                f"ARAG_EMBEDDINGS={meta.embedding_model}."
            )
        dims = embedding_dimensions(embeddings)
        if meta.dimensions != dims:
            raise EmbeddingMismatchError(
                f"The index at {data_dir} holds {meta.dimensions}-d vectors from "
                f"{meta.embedding_model!r} but the configured {model_id!r} gives {dims}-d "
                "vectors. Re-ingest into a new data dir, or set "
                f"ARAG_EMBEDDINGS={meta.embedding_model}."
            )

    @staticmethod
    def _schema(dims: int):
        import pyarrow as pa

        return pa.schema(
            [
                pa.field("id", pa.string(), nullable=False),
                pa.field("text", pa.string()),
                pa.field("vector", pa.list_(pa.float32(), dims)),
                pa.field("source", pa.string()),
                pa.field("chunk_id", pa.string()),
                pa.field("title", pa.string()),
                pa.field("metadata", pa.string()),
                # Distinct content terms (scoring.term_set), space-separated: fusion's lexical
                # coverage then needs no tokenizing at query time.
                pa.field("terms", pa.string()),
                # Document filters (tools/index/filters.py) read these with a SQL prefilter.
                pa.field("display", pa.string()),
                pa.field("tags", pa.string()),
                pa.field("file_type", pa.string()),
                pa.field("ingested_at", pa.string()),
            ]
        )

    @classmethod
    def _open_table(cls, db, meta: IndexMeta, data_dir: Path, *, create: bool):
        try:
            return db.open_table(TABLE)
        except PermissionError:
            raise
        except Exception as exc:  # lancedb raises ValueError/OSError/RuntimeError variants
            missing = not (data_dir / DB_DIR / f"{TABLE}.lance").exists()
            if missing and create:
                return db.create_table(TABLE, schema=cls._schema(meta.dimensions))
            raise IndexCorruptedError(
                f"Cannot open the chunk table in {data_dir / DB_DIR} ({exc}). "
                f"Delete {data_dir} and run `arag ingest PATH` again."
            ) from exc

    @property
    def has_filter_columns(self) -> bool:
        """Whether the table has the columns document filters read (tables made before them
        lack them: :meth:`add_filter_columns`).
        """  # noqa: D205
        return self._has_filters

    def add_filter_columns(self) -> None:
        """Give a table made before document filters their columns.

        The columns are added empty (NULL), a schema change that rewrites no data: the old
        rows match no filter until they are written again, and new ones carry their values.
        Writers call it with the writer lock held (ingest does, and indexes its files again);
        readers see the columns after their next :meth:`refresh`.
        """
        with self._write_lock:
            missing = [c for c in FILTER_COLUMNS if c not in self._table.schema.names]
            if missing:
                self._table.add_columns({c: "CAST(NULL AS STRING)" for c in missing})
            self._has_filters = True

    # ------------------------------------------------------------------ metadata

    def set_language(self, code: str) -> None:
        """Record the corpus language (ISO 639-1) in ``index_meta.json``.

        The BM25 tokenizer depends on it, so the next :meth:`optimize` rebuilds that index.
        """
        with self._write_lock:
            self._fts_stale = self._fts_stale or code != self.meta.language
            self.meta = IndexMeta(
                embedding_model=self.meta.embedding_model,
                dimensions=self.meta.dimensions,
                language=code,
                backend=self.meta.backend,
                calibration=self.meta.calibration,
            )
            write_meta(self.data_dir / META_FILE, self.meta)

    @property
    def embeddings(self) -> Embeddings:
        """The embeddings used for documents and queries."""
        return self._embeddings

    @property
    def has_fts(self) -> bool:
        """Whether a BM25 full-text index exists (without one, search is vector-only)."""
        return self._has_fts

    def count(self) -> int:
        """Return the number of chunks stored (after catching up with other writers)."""
        self.refresh()
        return int(self._table.count_rows())

    # ------------------------------------------------------------------ writing

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Upsert ``documents`` by id (``ids=`` kwarg, else ``Document.id``, else a new UUID).

        Texts are embedded in batches of ``EMBED_BATCH`` and written ``WRITE_BATCH`` rows at a
        time as Arrow tables. Rows whose id is new are appended; an existing row with the same
        id is replaced (a merge, which costs a join over the table, so only when needed).
        """
        ids = kwargs.get("ids")
        if ids is not None and len(ids) != len(documents):
            raise ValueError("ids and documents must have the same length")
        ids = [
            str(ids[i] if ids is not None else (doc.id or uuid.uuid4()))
            for i, doc in enumerate(documents)
        ]
        if not documents:
            return []
        for start in range(0, len(documents), WRITE_BATCH):
            docs = documents[start : start + WRITE_BATCH]
            batch_ids = ids[start : start + WRITE_BATCH]
            vectors = embed_array(self._embeddings, [d.page_content for d in docs], EMBED_BATCH)
            table = self._arrow_rows(batch_ids, docs, vectors)
            with self._write_lock:
                if self._existing_ids(batch_ids):
                    (
                        self._table.merge_insert("id")
                        .when_matched_update_all()
                        .when_not_matched_insert_all()
                        .execute(table)
                    )
                else:
                    self._table.add(table)
                self._row_count = None
                self._memory.drop()
        return ids

    def _existing_ids(self, ids: Sequence[str]) -> set[str]:
        if self._table.count_rows() == 0:
            return set()
        found: set[str] = set()
        for batch in _batches(list(ids), ID_BATCH):
            rows = (
                self._table.search()
                .where(f"id IN ({_sql_list(batch)})")
                .select(["id"])
                .limit(len(batch))
                .to_arrow()
            )
            found.update(rows.column("id").to_pylist())
        return found

    def _arrow_rows(self, ids: Sequence[str], docs: Sequence[Document], vectors: np.ndarray):
        import pyarrow as pa

        metas = [doc.metadata or {} for doc in docs]
        flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
        columns = {
            "id": pa.array(list(ids), pa.string()),
            "text": pa.array([d.page_content for d in docs], pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(flat, self.meta.dimensions),
            "source": pa.array([str(m.get("source", "")) for m in metas], pa.string()),
            "chunk_id": pa.array(
                [str(m.get("chunk_id", i)) for m, i in zip(metas, ids, strict=True)], pa.string()
            ),
            "title": pa.array([str(m.get("title", "")) for m in metas], pa.string()),
            "terms": pa.array([" ".join(term_set(d.page_content)) for d in docs], pa.string()),
            # default=str: odd metadata values (dates, paths) must not break ingestion.
            "metadata": pa.array(
                [
                    json.dumps(
                        {k: v for k, v in m.items() if k not in _RESERVED},
                        ensure_ascii=False,
                        default=str,
                    )
                    for m in metas
                ],
                pa.string(),
            ),
        }
        if not self._has_terms:  # an index from before the terms column
            del columns["terms"]
        if self._has_filters:
            now = stamp(datetime.now(UTC))  # when written, as Weaviate records it
            columns |= {
                "display": pa.array(
                    [str(m.get("display") or m.get("source", "")) for m in metas], pa.string()
                ),
                "tags": pa.array([tags_column(m.get("tags")) for m in metas], pa.string()),
                "file_type": pa.array([str(m.get("file_type", "")) for m in metas], pa.string()),
                "ingested_at": pa.array([now] * len(metas), pa.string()),
            }
        return pa.table(columns, schema=self._table.schema)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete the rows with these ids (all rows when ``ids`` is None is refused)."""
        if ids is None:
            raise ValueError("LanceIndex.delete needs explicit ids")
        with self._write_lock:
            for batch in _batches(list(ids), ID_BATCH):
                self._table.delete(f"id IN ({_sql_list(batch)})")
            self._row_count = None
            self._memory.drop()
        return True

    def row_ids(self) -> list[tuple[str, int]]:
        """``(id, _rowid)`` of every stored row, duplicates included (for repairs)."""
        rows = self._table.search().select(["id"]).with_row_id(True).limit(None).to_arrow()
        return list(zip(rows["id"].to_pylist(), rows["_rowid"].to_pylist(), strict=True))

    def delete_rows(self, rowids: Sequence[int]) -> None:
        """Delete rows by ``_rowid`` (which tells copies of one id apart); writer lock held."""
        with self._write_lock:
            for batch in _batches(list(rowids), ID_BATCH):
                self._table.delete(f"_rowid IN ({', '.join(str(int(r)) for r in batch)})")
            self._row_count = None
            self._memory.drop()

    def refresh(self) -> bool:
        """Catch up with writes by other processes; whether anything changed.

        Writers (ingest, prune, repair) rewrite ``index_generation`` after each run
        (:func:`tools.ingest.lock.bump_generation`). A changed file (one ``stat``, ~µs)
        makes this handle check out the table's latest version and drop what it cached
        from the old one: the row count, the in-memory copy, which indices exist, the corpus
        language and whether it has the filter columns. Called before every search, so a
        server sees another process's additions and deletions on its next query.
        """
        stamp = self._generation_stamp()
        if stamp == self._generation:
            return False
        with self._write_lock:
            if stamp == self._generation:
                return False
            self._table.checkout_latest()
            self.meta = read_meta(self.data_dir / META_FILE)
            self._has_filters = set(FILTER_COLUMNS) <= set(self._table.schema.names)  # added?
            indices = self._indices()
            self._has_fts = "text" in indices
            self._has_ann = "vector" in indices
            self._row_count = None
            self._memory.drop()
            self._generation = stamp
        return True

    def _generation_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.data_dir / GENERATION_FILE)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _fts_config(self):
        from lancedb.index import FTS

        lang = self.meta.language
        if lang in NGRAM_LANGUAGES:
            # Character bigrams and trigrams: measured on Belebele-ko (Korean questions over
            # Korean passages) see benchmarks/quick_retrieval.py.
            return FTS(
                base_tokenizer="ngram",
                ngram_min_length=2,
                ngram_max_length=3,
                stem=False,
                remove_stop_words=False,
                ascii_folding=False,
            )
        if lang in STEM_LANGUAGES:
            return FTS(language=STEM_LANGUAGES[lang], stem=True, remove_stop_words=True)
        return FTS(stem=False, remove_stop_words=False)

    def optimize(self, *, rebuild_fts: bool = False) -> None:
        """Bring the indices up to date after writes (ingestion calls this once per run).

        * BM25: builds the full-text index for the corpus language when missing (or when
          ``rebuild_fts``), else adds the new rows to it incrementally;
        * vectors: from ``ANN_MIN_ROWS`` rows on, an ``IVF_HNSW_SQ`` ANN index (cosine) is
          built once, then kept up to date incrementally; below that, exact search is fast;
        * compaction of the small fragments that batched writes leave.

        Rows written after the last call are still found (LanceDB scans unindexed rows), only
        slower.
        """
        with self._write_lock:
            indices = self._indices()
            new_fts = rebuild_fts or self._fts_stale or "text" not in indices
            new_ann = "vector" not in indices and self._table.count_rows() >= ANN_MIN_ROWS
            # Compacts fragments and merges rows added since into the existing indices. Before
            # a new index is built, so that it is built over the compacted fragments: after,
            # compaction would rewrite it (a fresh 2,469-chunk table: 1.0 s -> 0.67 s).
            self._table.optimize()
            if new_fts:
                self._table.create_index("text", config=self._fts_config(), replace=True)
                self._fts_stale = False
            if new_ann:
                from lancedb.index import HnswSq

                self._table.create_index("vector", config=HnswSq(distance_type="cosine"))
            self._has_fts = True
            self._has_ann = "vector" in self._indices()
            self._row_count = None
            self._memory.drop()

    def refresh_fts(self) -> None:
        """Bring the BM25 (and vector) indices up to date: same as :meth:`optimize`."""
        self.optimize()

    def _indices(self) -> dict[str, str]:
        """Indexed column -> index type (``FTS``, ``IVF_HNSW_SQ``, ...)."""
        try:
            return {
                col: str(getattr(ix, "index_type", ""))
                for ix in self._table.list_indices()
                for col in getattr(ix, "columns", [])
            }
        except Exception as exc:  # a missing index listing only disables BM25 / ANN
            log.warning("Could not list LanceDB indices (%s); BM25 disabled.", exc)
            return {}

    def index_summary(self) -> dict[str, str]:
        """Which columns are indexed and how, e.g. ``{"text": "FTS", "vector": "IVF_HNSW_SQ"}``."""
        return self._indices()

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _to_document(row: dict, *, standard_keys: bool = True) -> Document:
        try:
            meta = json.loads(row.get("metadata") or "{}")
        except ValueError:
            meta = {}
        # The VectorStore API returns the metadata as written (LangChain's standard tests check
        # it); hybrid results always carry source, chunk_id and title.
        if standard_keys:
            meta.update(source=row["source"], chunk_id=row["chunk_id"], title=row["title"])
        if row.get(LEXICAL_FAILED):
            meta[LEXICAL_FAILED] = row[LEXICAL_FAILED]
        return Document(id=row["id"], page_content=row["text"], metadata=meta)

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents with these ids (missing ids are skipped; order not guaranteed)."""
        docs: list[Document] = []
        for batch in _batches(list(ids), ID_BATCH):
            rows = (
                self._table.search()
                .where(f"id IN ({_sql_list(batch)})")
                .select(list(_DOC_COLUMNS))
                .limit(len(batch))
                .to_list()
            )
            docs.extend(self._to_document(r, standard_keys=False) for r in rows)
        return docs

    def _vector_rows(
        self,
        qvec: Sequence[float],
        limit: int,
        columns: Sequence[str] | None = None,
        where: str = "",
    ) -> list[dict]:
        return self._vector_query(qvec, limit, columns, where).to_arrow().to_pylist()

    def _vector_query(
        self,
        qvec: Sequence[float],
        limit: int,
        columns: Sequence[str] | None = None,
        where: str = "",
    ):
        """The LanceDB query of :meth:`_vector_rows` (its plan shows ANN or exact search)."""
        query = (
            self._table.search(np.asarray(qvec, dtype=np.float32), vector_column_name="vector")
            .distance_type("cosine")
            .select([*(columns or self._columns), "_distance"])
            .with_row_id(True)
            .limit(limit)
        )
        if where:  # before the search: the k nearest among the matching rows
            query = query.where(where, prefilter=True)
        if self.exact_search:
            query = query.bypass_vector_index()
        elif self._has_ann:
            # HNSW beam width: a wider beam than the default recovers the exact top hits
            # (measured with benchmarks/quick_retrieval.py --only scale). The index stores
            # scalar-quantized vectors, so its distances are approximate: re-scoring the top
            # ANN_REFINE * limit with the full vectors keeps the cosines (and so the calibrated
            # scores) exact (quantized ones were off by up to 0.9 in cosine) and, at 100k
            # chunks, R@5 0.70 -> 0.79 (exact search: 0.79), +2-3 ms CPU per query.
            query = query.ef(ANN_EF).refine_factor(ANN_REFINE)
        return query

    def _bm25_rows(
        self,
        query: str,
        limit: int,
        columns: Sequence[str] | None = None,
        *,
        with_vector: bool = True,
        where: str = "",
    ) -> list[dict]:
        if not self._has_fts or not query.strip():
            return []
        try:
            query = split_scripts(query)
            search = self._table.search(query, query_type="fts", fts_columns="text")
            if where:
                search = search.where(where, prefilter=True)
            return (
                search.select([*(columns or self._columns), *(["vector"] * with_vector), "_score"])
                .with_row_id(True)
                .limit(limit)
                .to_arrow()
                .to_pylist()
            )
        except Exception as exc:  # e.g. the FTS index was dropped: degrade to vector-only
            log.warning("BM25 search failed (%s); using vector search only.", exc)
            return _NoRows(str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__)

    def similarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Vector-only search; the score is the cosine similarity (higher is better)."""
        rows = self._vector_rows(self._embeddings.embed_query(query), k)
        return [
            (self._to_document(r, standard_keys=False), 1.0 - float(r["_distance"])) for r in rows
        ]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """Vector-only search, best first."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k)]

    def dense_weight(self, query: str) -> float:
        """Weight of the dense part for ``query``: 0 when the embeddings miss its language.

        The embedding model's languages (:func:`tools.embeddings.embedding_languages`) must
        include the corpus language and the query's script: an English-only model gives
        unrelated Korean texts high cosines, which would drown the BM25 evidence.
        """
        langs = embedding_languages(self._embeddings)
        if langs is None:
            return DENSE_WEIGHT
        if self.meta.language not in langs:
            return 0.0
        if not langs & NGRAM_LANGUAGES and spaceless_share(query) >= 0.3:
            return 0.0
        return DENSE_WEIGHT

    def bm25_candidates(self, query: str, depth: int) -> list[Candidate]:
        """The top ``depth`` BM25 hits alone, best first (for diagnostics and benchmarks)."""
        qvec = np.asarray(self._embeddings.embed_query(query), dtype=np.float32)
        return [
            Candidate(
                self._to_document(r),
                _cosine(r["vector"], qvec),
                float(r["_score"]),
                i,
                terms=_terms(r),
            )
            for i, r in enumerate(self._bm25_rows(query, depth))
        ]

    def candidates(self, query: str, depth: int, *, dense: bool = True) -> list[Candidate]:
        """Union of the top ``depth`` BM25 and vector hits, each with its cosine and ranks.

        ``dense=False`` skips the vector search (BM25 hits still carry their cosine).
        """
        memory = self._memory_table()
        return self._candidates(query, depth, dense=dense, columns=self._columns, memory=memory)

    def _candidates(
        self,
        query: str,
        depth: int,
        *,
        dense: bool,
        columns: Sequence[str],
        where: str = "",
        memory: memory_copy.MemoryTable | None = None,
    ) -> list[Candidate]:
        """:meth:`candidates` reading only ``columns`` (plus the scores and ``_rowid``).

        With columns that leave out the text, the candidates' documents carry only their id
        and the search's ``_rowid`` (in ``metadata``); :meth:`_full_documents` reads the rest.
        BM25 runs in a worker thread while the vector search runs here (LanceDB releases the
        GIL): measured faster than one after the other even on 240-row tables, where each
        LanceDB call's fixed cost dominates. ``where`` (a document filter's SQL) restricts
        both searches to the matching rows before they rank. With ``memory`` (the table's
        in-memory copy) both searches run in process instead, and every column is read.
        """
        qvec = np.asarray(self._embeddings.embed_query(query), dtype=np.float32)
        if memory is not None:
            return self._memory_candidates(memory, query, qvec, depth, dense=dense, where=where)
        bm25 = (
            self._pool().submit(self._bm25_rows, query, depth, columns, where=where)
            if dense
            else None
        )
        vector_rows = self._vector_rows(qvec, depth, columns, where) if dense else []
        bm25_rows = bm25.result() if bm25 else self._bm25_rows(query, depth, columns, where=where)
        _mark_failure(bm25_rows, vector_rows)
        merged: dict[str, dict] = {}
        for rank, row in enumerate(vector_rows):
            merged[row["id"]] = {
                "row": row,
                "dense": 1.0 - float(row["_distance"]),
                "vector_rank": rank,
                "bm25_rank": None,
                "bm25_score": None,
            }
        for rank, row in enumerate(bm25_rows):
            entry = merged.get(row["id"])
            if entry is None:
                entry = merged[row["id"]] = {
                    "row": row,
                    "dense": _cosine(row["vector"], qvec),
                    "vector_rank": None,
                }
            entry["bm25_rank"] = rank
            entry["bm25_score"] = float(row["_score"])
        full = "text" in columns
        return [
            Candidate(
                self._to_document(e["row"])
                if full
                else Document(
                    id=e["row"]["id"],
                    page_content="",
                    metadata=_rowid(e["row"]) | _failure(e["row"]),
                ),
                e["dense"],
                bm25_score=e["bm25_score"],
                bm25_rank=e["bm25_rank"],
                vector_rank=e["vector_rank"],
                terms=_terms(e["row"]),
            )
            for e in merged.values()
        ]

    def _memory_table(self) -> memory_copy.MemoryTable | None:
        """The in-memory copy if it is ready (else ``None``; see :mod:`tools.index.memory_copy`).

        Read on first use (small tables) or in the background, and dropped on every write
        through this index; like the table handle itself, it does not see other processes'
        writes until :meth:`refresh` does.
        """
        return self._memory.get(self._rows())

    def _read_for_memory(self):
        """The table's rows for its in-memory copy (documents, terms and vectors)."""
        return self._table.to_arrow().select([*self._columns, "vector"])

    def _bm25_tokenizer(self) -> tuple[str | None, str | None]:
        return _bm25_language(self.meta.language)

    def warm(self, timeout: float | None = None) -> bool:
        """Build the in-memory copy searches use, if the table qualifies; wait for it.

        Returns whether searches now use a copy (``False`` for a table too big to hold, or
        when ``timeout`` seconds passed first). Servers need not call this: the first search
        starts the build and later ones use the copy once it is ready.
        """
        self.refresh()
        self._memory_table()
        self._memory.wait(timeout)
        return self._memory_table() is not None

    def _memory_candidates(
        self,
        memory: memory_copy.MemoryTable,
        query: str,
        qvec: np.ndarray,
        depth: int,
        *,
        dense: bool,
        where: str = "",
    ) -> list[Candidate]:
        """:meth:`_candidates` over the in-memory copy: its vector search, in-process BM25.

        Vector search ranks by exact cosines (from 50k rows, among a PCA funnel's candidates:
        :meth:`tools.index.memory_copy.MemoryTable.nearest`). With ``where``, only matching
        rows get a vector rank, and
        BM25 runs in LanceDB, whose full-text search applies the filter before ranking.
        """
        vector_pos: list[int] = []
        if dense:
            allowed = self._matching_positions(memory, where) if where else None
            vector_pos = memory.nearest(qvec, depth, allowed)
        failed = ""
        if memory.bm25 is not None and not where:
            # In-process BM25 (tools.index.bm25): LanceDB's FTS call alone cost ~3.5 ms here.
            hits = memory.bm25.search(memory.tokenize(query), depth) if self._has_fts else []
        else:
            rows = self._bm25_rows(query, depth, ["id"], with_vector=False, where=where)
            failed = getattr(rows, "error", "")
            # A row written by another handle after the copy is not visible here.
            found = ((memory.position.get(r["id"]), float(r["_score"])) for r in rows)
            hits = [(pos, score) for pos, score in found if pos is not None]
        merged: dict[int, dict] = {
            pos: {"vector_rank": rank, "bm25_rank": None, "bm25_score": None}
            for rank, pos in enumerate(vector_pos)
        }
        for rank, (pos, score) in enumerate(hits):
            entry = merged.setdefault(pos, {"vector_rank": None})
            entry.update(bm25_rank=rank, bm25_score=score)
        rows = memory.rows(list(merged))
        cosines = memory.cosines_at(qvec, list(merged))
        if failed:
            rows = [row | {LEXICAL_FAILED: failed} for row in rows]
        return [
            Candidate(
                self._to_document(row),
                float(cosine),
                bm25_score=e["bm25_score"],
                bm25_rank=e["bm25_rank"],
                vector_rank=e["vector_rank"],
                terms=_terms(row),
            )
            for e, row, cosine in zip(merged.values(), rows, cosines, strict=True)
        ]

    def _matching_positions(self, memory: memory_copy.MemoryTable, where: str) -> list[int]:
        """Positions in the in-memory copy of the rows matching ``where`` (one SQL scan)."""
        ids = self._table.search().where(where).select(["id"]).limit(None).to_arrow()
        return [p for i in ids["id"].to_pylist() if (p := memory.position.get(i)) is not None]

    def _rows(self) -> int:
        # Row count of the opened table version, read once (count_rows is a call into Rust).
        if self._row_count is None:
            self._row_count = self.count()
        return self._row_count

    def _full_documents(self, slim: Sequence[Document]) -> list[Document]:
        """The full documents (text, metadata) for slim candidates, in the same order.

        Read by ``_rowid`` (one take); a row id that no longer holds the same id (the table
        was compacted in between) is read again by id.
        """
        by_id: dict[str, dict] = {}
        rowids = [d.metadata["_rowid"] for d in slim if "_rowid" in d.metadata]
        if rowids:
            rows = self._table.take_row_ids(rowids).select(list(_DOC_COLUMNS)).to_arrow()
            by_id = {r["id"]: r for r in rows.to_pylist()}
        missing = [d.id for d in slim if d.id not in by_id]
        for batch in _batches(missing, ID_BATCH):
            rows = (
                self._table.search()
                .where(f"id IN ({_sql_list(batch)})")
                .select(list(_DOC_COLUMNS))
                .limit(len(batch))
                .to_list()
            )
            by_id.update((r["id"], r) for r in rows)
        return [self._to_document(by_id[d.id]) for d in slim if d.id in by_id]

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            with self._write_lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(2, thread_name_prefix="arag-bm25")
        return self._executor

    def hybrid_search(
        self, query: str, k: int = 5, *, filters: DocFilter | None = None
    ) -> list[Document]:
        """Hybrid BM25 + vector search, best first, with calibrated scores.

        Each list (BM25 and vector) contributes its top ``max(20, 2k)``; their union is ordered
        and scored by :func:`tools.index.scoring.fuse`, with the dense part weighted by
        :meth:`dense_weight` and its cosines mapped by the ramp recorded in the index
        (``meta.score_calibration``). A configured :attr:`reranker` then reorders the top
        ``max(k, RERANK_DEPTH)``. Returned metadata: ``source``, ``chunk_id``, ``title``,
        ``score`` (calibrated, [0, 1]), ``dense`` (cosine), ``lexical`` (query-term coverage)
        and ``rank`` (0-based). Without an FTS index yet, the search is vector-only.
        ``filters`` (:class:`tools.index.filters.DocFilter`) restricts both searches to the
        matching documents before they rank.
        """
        if k <= 0 or not query.strip():
            return []
        self.refresh()
        where = ""
        if filters:
            if not self._has_filters:
                raise IndexFiltersUnsupportedError(
                    f"The index at {self.data_dir} was built before document filters. "
                    "Run `arag ingest` on its documents once: it adds the filter columns and "
                    "indexes the documents again with their metadata."
                )
            where = filters.to_sql()
        weight = self.dense_weight(query)
        depth = max(20, 2 * k)
        # Fusion needs only ids, terms and scores. In a large table held only in LanceDB the
        # texts and metadata are read for the returned results alone (one take by row id
        # instead of ~40 rows' worth of columns): 100k chunks, p50 13-16 ms -> 10-13 ms.
        memory = self._memory_table()
        slim = memory is None and self._has_terms and self._rows() >= memory_copy.SMALL_TABLE_ROWS
        columns = ["id", "terms"] if slim else self._columns
        candidates = self._candidates(
            query,
            depth,
            dense=weight > 0 or not self._has_fts,
            columns=columns,
            where=where,
            memory=memory,
        )
        calibration = self.meta.score_calibration  # the ramp this index was built with
        fused = fuse(
            query,
            candidates,
            dense_weight=weight if self._has_fts else DENSE_WEIGHT,
            ramp=(calibration.cos_low, calibration.cos_high),
        )
        top = fused[: max(k, RERANK_DEPTH) if self.reranker else k]
        if slim:
            full = {d.id: d for d in self._full_documents([s.doc for s in top])}
        else:
            full = {s.doc.id: s.doc for s in top}
        # A failed BM25 search leaves vector search alone: every result says so (visible in
        # the path and flags), rather than only a log line.
        failed = next((f for c in candidates if (f := c.doc.metadata.get(LEXICAL_FAILED))), "")
        docs = []
        for scored in top:
            doc = full.get(scored.doc.id)
            if doc is None:  # deleted since the search
                continue
            doc.metadata.update(
                score=round(scored.score, 4),
                dense=round(scored.dense, 4),
                lexical=round(scored.lexical, 4),
            )
            if failed:
                doc.metadata[LEXICAL_FAILED] = failed
            docs.append(doc)
        if self.reranker is not None:
            docs = list(self.reranker.rerank(query, docs, k))[:k]
        for rank, doc in enumerate(docs):
            doc.metadata["rank"] = rank
        return docs

    def probe(self, query: str) -> float:
        """Confidence probe: the calibrated score of the top hybrid result (0.0 if none).

        Equal to ``hybrid_search(query, k)[0].metadata["score"]`` for any ``k <= 5`` (without
        a reranker). Thresholds are measured by ``benchmarks/quick_retrieval.py``.
        """
        top = self.hybrid_search(query, k=1)
        return float(top[0].metadata["score"]) if top else 0.0

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        data_dir: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> LanceIndex:
        """Create (or open) the index in ``data_dir`` and upsert ``texts`` into it."""
        if data_dir is None:
            raise ValueError("LanceIndex.from_texts needs data_dir=")
        index = cls.open(data_dir, embedding, create=True)
        index.add_texts(texts, metadatas, ids=ids)
        index.refresh_fts()
        return index
