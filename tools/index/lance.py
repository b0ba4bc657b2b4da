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
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from tools.embeddings import embedding_dimensions, embedding_model_id
from tools.index.base import (
    EmbeddingMismatchError,
    IndexCorruptedError,
    IndexError_,
    IndexMeta,
    IndexNotFoundError,
)
from tools.index.scoring import Candidate, fuse

log = logging.getLogger(__name__)

TABLE = "chunks"
META_FILE = "index_meta.json"
DB_DIR = "lancedb"

EMBED_BATCH = 256  # texts per embedding call
ID_BATCH = 500  # ids per SQL ``IN (...)`` filter

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


class IndexPermissionError(IndexCorruptedError):
    """The index files exist but this user may not read or write them."""


def _sql_list(ids: Sequence[str]) -> str:
    return ", ".join("'" + str(i).replace("'", "''") + "'" for i in ids)


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
        self._has_fts = self._detect_fts()

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

    # ------------------------------------------------------------------ metadata

    def set_language(self, code: str) -> None:
        """Record the corpus language (ISO 639-1) in ``index_meta.json``."""
        with self._write_lock:
            self.meta = IndexMeta(
                embedding_model=self.meta.embedding_model,
                dimensions=self.meta.dimensions,
                language=code,
                backend=self.meta.backend,
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
        """Return the number of chunks stored."""
        return int(self._table.count_rows())

    # ------------------------------------------------------------------ writing

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Upsert ``documents`` by id (``ids=`` kwarg, else ``Document.id``, else a new UUID).

        Texts are embedded in batches of ``EMBED_BATCH``; an existing row with the same id is
        replaced.
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
        for batch_start in range(0, len(documents), EMBED_BATCH):
            docs = documents[batch_start : batch_start + EMBED_BATCH]
            vectors = self._embeddings.embed_documents([d.page_content for d in docs])
            rows = [
                self._row(doc_id, doc, vec)
                for doc_id, doc, vec in zip(
                    ids[batch_start : batch_start + EMBED_BATCH], docs, vectors, strict=True
                )
            ]
            with self._write_lock:
                (
                    self._table.merge_insert("id")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute(rows)
                )
        return ids

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Upsert raw texts (see :meth:`add_documents`)."""
        texts = list(texts)
        metadatas = metadatas or [{} for _ in texts]
        docs = [Document(page_content=t, metadata=m) for t, m in zip(texts, metadatas, strict=True)]
        return self.add_documents(docs, ids=ids)

    def _row(self, doc_id: str, doc: Document, vector: Sequence[float]) -> dict:
        meta = doc.metadata or {}
        extra = {k: v for k, v in meta.items() if k not in _RESERVED}
        return {
            "id": doc_id,
            "text": doc.page_content,
            "vector": [float(x) for x in vector],
            "source": str(meta.get("source", "")),
            "chunk_id": str(meta.get("chunk_id", doc_id)),
            "title": str(meta.get("title", "")),
            # default=str: odd metadata values (dates, paths) must not break ingestion.
            "metadata": json.dumps(extra, ensure_ascii=False, default=str),
        }

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete the rows with these ids (all rows when ``ids`` is None is refused)."""
        if ids is None:
            raise ValueError("LanceIndex.delete needs explicit ids")
        with self._write_lock:
            for batch in _batches(list(ids), ID_BATCH):
                self._table.delete(f"id IN ({_sql_list(batch)})")
        return True

    def refresh_fts(self) -> None:
        """(Re)build the BM25 full-text index over ``text`` for the corpus language.

        Rows written after the last build are still found by LanceDB (it scans unindexed rows),
        but slower; ingestion calls this once at the end of a run that changed anything.
        """
        from lancedb.index import FTS

        lang = self.meta.language
        if lang in NGRAM_LANGUAGES:
            config = FTS(
                base_tokenizer="ngram",
                ngram_min_length=2,
                ngram_max_length=3,
                stem=False,
                remove_stop_words=False,
                ascii_folding=False,
            )
        elif lang in STEM_LANGUAGES:
            config = FTS(language=STEM_LANGUAGES[lang], stem=True, remove_stop_words=True)
        else:
            config = FTS(stem=False, remove_stop_words=False)
        with self._write_lock:
            self._table.create_index("text", config=config, replace=True)
            self._has_fts = True

    def _detect_fts(self) -> bool:
        try:
            return any(
                getattr(ix, "index_type", "") == "FTS" and "text" in getattr(ix, "columns", [])
                for ix in self._table.list_indices()
            )
        except Exception as exc:  # a missing index listing only disables BM25
            log.warning("Could not list LanceDB indices (%s); BM25 disabled.", exc)
            return False

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
        return Document(id=row["id"], page_content=row["text"], metadata=meta)

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents with these ids (missing ids are skipped; order not guaranteed)."""
        docs: list[Document] = []
        for batch in _batches(list(ids), ID_BATCH):
            rows = (
                self._table.search()
                .where(f"id IN ({_sql_list(batch)})")
                .select(["id", "text", "source", "chunk_id", "title", "metadata"])
                .limit(len(batch))
                .to_list()
            )
            docs.extend(self._to_document(r, standard_keys=False) for r in rows)
        return docs

    def _vector_rows(self, qvec: Sequence[float], limit: int) -> list[dict]:
        return (
            self._table.search(list(qvec), vector_column_name="vector")
            .distance_type("cosine")
            .select(["id", "text", "source", "chunk_id", "title", "metadata", "_distance"])
            .limit(limit)
            .to_list()
        )

    def _bm25_rows(self, query: str, limit: int) -> list[dict]:
        if not self._has_fts or not query.strip():
            return []
        try:
            return (
                self._table.search(query, query_type="fts", fts_columns="text")
                .limit(limit)
                .to_list()
            )
        except Exception as exc:  # e.g. the FTS index was dropped: degrade to vector-only
            log.warning("BM25 search failed (%s); using vector search only.", exc)
            return []

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

    def candidates(self, query: str, depth: int) -> list[Candidate]:
        """Union of the top ``depth`` BM25 and vector hits, each with its cosine and ranks."""
        qvec = np.asarray(self._embeddings.embed_query(query), dtype=np.float32)
        qnorm = float(np.linalg.norm(qvec)) or 1.0
        merged: dict[str, dict] = {}
        for rank, row in enumerate(self._vector_rows(qvec, depth)):
            merged[row["id"]] = {
                "row": row,
                "dense": 1.0 - float(row["_distance"]),
                "vector_rank": rank,
                "bm25_rank": None,
                "bm25_score": None,
            }
        for rank, row in enumerate(self._bm25_rows(query, depth)):
            entry = merged.get(row["id"])
            if entry is None:
                # BM25-only hit: compute its cosine from the stored vector.
                vec = np.asarray(row["vector"], dtype=np.float32)
                dense = float(vec @ qvec) / (qnorm * (float(np.linalg.norm(vec)) or 1.0))
                entry = merged[row["id"]] = {"row": row, "dense": dense, "vector_rank": None}
            entry["bm25_rank"] = rank
            entry["bm25_score"] = float(row["_score"])
        return [
            Candidate(
                self._to_document(e["row"]),
                e["dense"],
                bm25_score=e["bm25_score"],
                bm25_rank=e["bm25_rank"],
                vector_rank=e["vector_rank"],
            )
            for e in merged.values()
        ]

    def hybrid_search(self, query: str, k: int = 5) -> list[Document]:
        """Hybrid BM25 + vector search, best first, with calibrated scores.

        Each list (BM25 and vector) contributes its top ``max(20, 4k)``; their union is ordered
        and scored by :func:`tools.index.scoring.fuse`. Returned metadata: ``source``,
        ``chunk_id``, ``title``, ``score`` (calibrated, [0, 1]), ``dense`` (cosine),
        ``lexical`` (query-term coverage) and ``rank`` (0-based). Without an FTS index yet, the
        search is vector-only.
        """
        if k <= 0 or not query.strip():
            return []
        candidates = self.candidates(query, max(20, 4 * k))
        results = []
        for rank, scored in enumerate(fuse(query, candidates)[:k]):
            doc = scored.doc
            doc.metadata.update(
                score=round(scored.score, 4),
                dense=round(scored.dense, 4),
                lexical=round(scored.lexical, 4),
                rank=rank,
            )
            results.append(doc)
        return results

    def probe(self, query: str) -> float:
        """Confidence probe: the calibrated score of the top hybrid result (0.0 if none).

        Equal to ``hybrid_search(query, k)[0].metadata["score"]`` for any ``k <= 5``. Thresholds
        are measured by ``benchmarks/quick_retrieval.py``.
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
