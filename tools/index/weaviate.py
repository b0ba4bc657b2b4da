"""Weaviate backend (weaviate-client v4): the same index as the embedded one, on a server.

One collection holds every workspace's chunks; multi-tenancy keeps them apart (one tenant per
workspace or user, all reads and writes go through ``collection.with_tenant(...)``). We send
our own vectors (``Configure.Vectors.self_provided``), so queries and ingestion use the same
embeddings as the embedded index, and the collection's description records which ones.

Scores: Weaviate's hybrid query (``alpha`` and fusion type from the settings) picks and
pre-orders the candidates. Its fused score is relative to the query's own result list, so it
cannot carry thresholds across questions; each hit's calibrated score is therefore recomputed
here, exactly as the embedded index does, from the cosine between the query vector and the
returned object vector plus the query-term coverage of the returned text
(:func:`tools.index.scoring.calibrated_score`). The graph's thresholds keep their meaning.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from tools.embeddings import embedding_dimensions, embedding_model_id
from tools.index.base import (
    EmbeddingMismatchError,
    IndexError_,
    IndexMeta,
    IndexNotFoundError,
)
from tools.index.calibration import calibration_for
from tools.index.filters import DocFilter
from tools.index.rerank import RERANK_DEPTH, Reranker
from tools.index.scoring import Candidate, calibrated_score, lexical_coverage, tokenize
from tools.index.weaviate_setup import (
    _RESERVED,
    EMBED_BATCH,
    FUSION_TYPES,
    HYBRID_ORDER_WEIGHT,
    ID_BATCH,
    MAX_WRITE_ATTEMPTS,
    RETRY_BACKOFF,
    RETURN_PROPERTIES,
    TEXT_PROPERTIES,
    VECTOR,
    IndexConfigError,
    IndexUnavailableError,
    IndexWriteError,
    WeaviateSettings,
    build_filters,
    collection_spec,
    connect,
    describe,
    object_uuid,
    parse_description,
    unavailable,
)

__all__ = [
    "IndexConfigError",
    "IndexUnavailableError",
    "IndexWriteError",
    "WeaviateIndex",
    "WeaviateSettings",
    "build_filters",
    "collection_spec",
    "describe",
]

log = logging.getLogger(__name__)


class _Rejected(Exception):
    """One batch import in which the server rejected some objects (all of them retryable)."""

    def __init__(self, failed: int, total: int, errors: Counter[str]):
        super().__init__(f"{failed} of {total} objects rejected")
        self.failed, self.total, self.errors = failed, total, errors


def _log_rejected(state: RetryCallState) -> None:
    """Tenacity ``after`` hook: runs after every rejected attempt, the last one included."""
    rejected = state.outcome.exception() if state.outcome else None
    if isinstance(rejected, _Rejected):
        log.warning(
            "Weaviate rejected %d of %d objects (attempt %d/%d): %s",
            rejected.failed,
            rejected.total,
            state.attempt_number,
            MAX_WRITE_ATTEMPTS,
            rejected.errors.most_common(1)[0][0],
        )


def _write_error(errors: Counter[str], total: int) -> IndexWriteError:
    reasons = "; ".join(f"{n}x {msg}" for msg, n in errors.most_common(3))
    return IndexWriteError(
        f"Weaviate rejected {sum(errors.values())} of {total} chunks after "
        f"{MAX_WRITE_ATTEMPTS} attempts ({reasons}). The other chunks are stored; run the "
        "ingest again once the cause is fixed (unchanged chunks are skipped)."
    )


def _batches(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _cosine(qvec: np.ndarray, qnorm: float, vec: Sequence[float] | None) -> float:
    if not vec:
        return 0.0
    v = np.asarray(vec, dtype=np.float32)
    return float(v @ qvec) / (qnorm * (float(np.linalg.norm(v)) or 1.0))


# ---------------------------------------------------------------------- the index


class WeaviateIndex(VectorStore):
    """Hybrid chunk index in one tenant of a Weaviate collection.

    Use :meth:`open` rather than the constructor. Implements
    :class:`tools.index.base.HybridIndex` and LangChain's ``VectorStore`` (upsert by id,
    delete by id, ``get_by_ids``), so the indexing API with a record manager drives ingestion
    idempotently. Call :meth:`close` (or use it as a context manager) to release the client.
    """

    def __init__(
        self,
        client: Any,
        collection: Any,
        embeddings: Embeddings,
        settings: WeaviateSettings,
        meta: IndexMeta,
        *,
        owns_client: bool = True,
    ):
        self._client = client
        self._collection = collection  # already bound to settings.tenant
        self._embeddings = embeddings
        self.settings = settings
        self.meta = meta
        self._owns_client = owns_client
        self._write_lock = threading.RLock()
        #: A server backend keeps no local files.
        self.data_dir = None
        #: Optional :class:`tools.index.rerank.Reranker` applied to the top results.
        self.reranker: Reranker | None = None

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        embeddings: Embeddings,
        settings: WeaviateSettings | None = None,
        *,
        create: bool = False,
        client: Any = None,
    ) -> WeaviateIndex:
        """Connect and open the tenant's chunks (creating collection and tenant when ``create``).

        ``client`` reuses an open ``WeaviateClient`` (it is then not closed by :meth:`close`).
        Raises ``IndexUnavailableError`` (server unreachable, bad key), ``IndexNotFoundError``
        (no collection or tenant and not ``create``), ``EmbeddingMismatchError`` (collection
        built with other embeddings) or ``IndexCorruptedError`` (collection not made by arag).
        """
        from weaviate.exceptions import WeaviateBaseError

        settings = settings or WeaviateSettings.from_env()
        settings.validate()
        owns = client is None
        client = client or connect(settings)
        try:
            collection, meta = cls._open_collection(client, settings, embeddings, create=create)
        except IndexError_:
            if owns:
                client.close()
            raise
        except WeaviateBaseError as exc:
            if owns:
                client.close()
            raise unavailable(settings, exc) from exc
        return cls(client, collection, embeddings, settings, meta, owns_client=owns)

    @classmethod
    def _open_collection(cls, client, settings: WeaviateSettings, embeddings, *, create: bool):
        from weaviate.classes.tenants import Tenant
        from weaviate.exceptions import UnexpectedStatusCodeError

        where = f"Weaviate collection {settings.collection} at {settings.url}"
        model_id = embedding_model_id(embeddings)
        if not client.collections.exists(settings.collection):
            if not create:
                raise IndexNotFoundError(
                    f"No {where}. Run `ARAG_INDEX=weaviate arag ingest PATH` first."
                )
            meta = IndexMeta(
                model_id,
                embedding_dimensions(embeddings),
                backend="weaviate",
                calibration=calibration_for(model_id).to_dict(),
            )
            try:
                client.collections.create(**collection_spec(settings.collection, meta, {}))
            except UnexpectedStatusCodeError as exc:
                # Another process may have created it between exists() and create().
                if "already exists" not in str(exc):
                    raise
        base = client.collections.use(settings.collection)
        meta, languages = parse_description(base.config.get().description, where)
        cls._check_embeddings(meta, embeddings, where)
        if not base.tenants.exists(settings.tenant):
            if not create:
                raise IndexNotFoundError(
                    f"{where} has no tenant {settings.tenant!r}. Run `ARAG_TENANT="
                    f"{settings.tenant} ARAG_INDEX=weaviate arag ingest PATH` first."
                )
            base.tenants.create([Tenant(name=settings.tenant)])
        meta = replace(meta, language=languages.get(settings.tenant, "en"))
        return base.with_tenant(settings.tenant), meta

    @staticmethod
    def _check_embeddings(meta: IndexMeta, embeddings: Embeddings, where: str) -> None:
        model_id = embedding_model_id(embeddings)
        dims = embedding_dimensions(embeddings)
        if meta.embedding_model != model_id or meta.dimensions != dims:
            raise EmbeddingMismatchError(
                f"The {where} holds {meta.dimensions}-d vectors from {meta.embedding_model!r} "
                f"but the configured {model_id!r} gives {dims}-d vectors. Set "
                f"ARAG_EMBEDDINGS={meta.embedding_model}, or ingest into another collection "
                "(ARAG_WEAVIATE_COLLECTION)."
            )

    def close(self) -> None:
        """Close the client connection (only if this index opened it)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> WeaviateIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn, *args, **kwargs):
        """Run one client call, turning client errors into ``IndexUnavailableError``."""
        from weaviate.exceptions import WeaviateBaseError

        try:
            return fn(*args, **kwargs)
        except WeaviateBaseError as exc:
            raise unavailable(self.settings, exc) from exc

    # ------------------------------------------------------------------ metadata

    @property
    def embeddings(self) -> Embeddings:
        """The embeddings used for documents and queries."""
        return self._embeddings

    @property
    def has_fts(self) -> bool:
        """Always true: Weaviate keeps its BM25 index up to date on every write."""
        return True

    @property
    def record_namespace(self) -> str:
        """Namespace of this tenant's keys in the ingestion record manager."""
        return f"weaviate/{self.settings.collection}/{self.settings.tenant}"

    def refresh_fts(self) -> None:
        """Nothing to do: Weaviate indexes BM25 terms as objects are written."""

    def set_language(self, code: str) -> None:
        """Record this tenant's corpus language (ISO 639-1) in the collection description."""
        base = self._client.collections.use(self.settings.collection)
        where = f"Weaviate collection {self.settings.collection} at {self.settings.url}"
        with self._write_lock:
            meta, languages = parse_description(self._call(base.config.get).description, where)
            languages[self.settings.tenant] = code
            self._call(base.config.update, description=describe(meta, languages))
            self.meta = replace(self.meta, language=code)

    def count(self) -> int:
        """Number of chunks stored for this tenant."""
        result = self._call(self._collection.aggregate.over_all, total_count=True)
        return int(result.total_count or 0)

    # ------------------------------------------------------------------ writing

    def _properties(self, doc_id: str, doc: Document, now: datetime) -> dict[str, Any]:
        meta = doc.metadata or {}
        return {
            "doc_id": doc_id,
            "text": doc.page_content,
            "source": str(meta.get("source", "")),
            "chunk_id": str(meta.get("chunk_id", doc_id)),
            "title": str(meta.get("title", "")),
            "language": str(meta.get("language") or self.meta.language),
            "ingested_at": now,
            # What document filters read (tools/index/filters.py).
            "display": str(meta.get("display") or meta.get("source", "")),
            "tags": [str(t) for t in (meta.get("tags") or [])],
            "file_type": str(meta.get("file_type", "")),
            # default=str: odd metadata values (dates, paths) must not break ingestion.
            "metadata_json": json.dumps(meta, ensure_ascii=False, default=str),
        }

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Upsert ``documents`` by id (``ids=`` kwarg, else ``Document.id``, else a new UUID).

        Objects go through the client's dynamic batching. Objects the server rejects are
        retried up to ``MAX_WRITE_ATTEMPTS`` times in all; if some still fail,
        ``IndexWriteError`` lists how many and why (the others are stored).
        """
        ids = kwargs.get("ids")
        if ids is not None and len(ids) != len(documents):
            raise ValueError("ids and documents must have the same length")
        ids = [
            str(ids[i] if ids is not None else (doc.id or uuid.uuid4()))
            for i, doc in enumerate(documents)
        ]
        now = datetime.now(UTC)
        for start in range(0, len(documents), EMBED_BATCH):
            docs = documents[start : start + EMBED_BATCH]
            vectors = self._embeddings.embed_documents([d.page_content for d in docs])
            pending = {
                object_uuid(doc_id): (self._properties(doc_id, doc, now), [float(x) for x in vec])
                for doc_id, doc, vec in zip(
                    ids[start : start + EMBED_BATCH], docs, vectors, strict=True
                )
            }
            self._write(pending)
        return ids

    def _write(self, pending: dict[str, tuple[dict, list[float]]]) -> None:
        from weaviate.exceptions import WeaviateBaseError

        total = len(pending)

        def import_pending() -> None:
            nonlocal pending
            try:
                with self._collection.batch.dynamic() as batch:
                    for obj_uuid, (props, vector) in pending.items():
                        batch.add_object(properties=props, uuid=obj_uuid, vector={VECTOR: vector})
                failed = list(self._collection.batch.failed_objects)
            except WeaviateBaseError as exc:
                raise unavailable(self.settings, exc) from exc
            if not failed:
                return
            errors = Counter(" ".join(f.message.split())[:200] for f in failed)
            retry = {}
            for f in failed:
                key = str(f.original_uuid or f.object_.uuid)
                if key in pending:
                    retry[key] = pending[key]
            # A failure we cannot map back to an object cannot be retried: report it.
            if len(retry) < len(failed):
                raise _write_error(errors, total)
            pending = retry  # only the rejected objects are sent again
            raise _Rejected(len(failed), total, errors)

        # Read at call time (not at import) so that tests can set RETRY_BACKOFF to 0.
        retrying = Retrying(
            retry=retry_if_exception_type(_Rejected),
            stop=stop_after_attempt(MAX_WRITE_ATTEMPTS),
            wait=wait_exponential(multiplier=RETRY_BACKOFF),  # RETRY_BACKOFF * 2 ** (attempt - 1)
            after=_log_rejected,
            reraise=True,
        )
        with self._write_lock:
            try:
                retrying(import_pending)
            except _Rejected as rejected:
                raise _write_error(rejected.errors, total) from None

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete the chunks with these ids (deleting everything with ``ids=None`` is refused)."""
        from weaviate.classes.query import Filter

        if ids is None:
            raise ValueError("WeaviateIndex.delete needs explicit ids")
        with self._write_lock:
            for batch in _batches([object_uuid(str(i)) for i in ids], ID_BATCH):
                result = self._call(
                    self._collection.data.delete_many, where=Filter.by_id().contains_any(batch)
                )
                if getattr(result, "failed", 0):
                    raise IndexWriteError(
                        f"Weaviate failed to delete {result.failed} of {len(batch)} chunks; "
                        "run the ingest again."
                    )
        return True

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _to_document(obj: Any) -> Document:
        props = obj.properties
        try:
            meta = json.loads(props.get("metadata_json") or "{}")
        except ValueError:
            meta = {}
        return Document(
            id=props.get("doc_id") or str(obj.uuid),
            page_content=props.get("text") or "",
            metadata=meta,
        )

    @staticmethod
    def _with_standard_keys(doc: Document, obj: Any) -> Document:
        props = obj.properties
        for key in ("source", "chunk_id", "title"):
            doc.metadata.setdefault(key, props.get(key) or "")
        return doc

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents with these ids (missing ids are skipped; order not guaranteed)."""
        from weaviate.classes.query import Filter

        docs: list[Document] = []
        for batch in _batches([object_uuid(str(i)) for i in ids], ID_BATCH):
            result = self._call(
                self._collection.query.fetch_objects,
                filters=Filter.by_id().contains_any(batch),
                limit=len(batch),
                return_properties=RETURN_PROPERTIES,
            )
            docs.extend(self._to_document(o) for o in result.objects)
        return docs

    def _near_vector(self, qvec: Sequence[float], limit: int, filters=None):
        from weaviate.classes.query import MetadataQuery

        return self._call(
            self._collection.query.near_vector,
            near_vector=list(qvec),
            target_vector=VECTOR,
            limit=limit,
            filters=filters,
            return_metadata=MetadataQuery(distance=True),
            return_properties=RETURN_PROPERTIES,
        ).objects

    def similarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Vector-only search; the score is the cosine similarity (higher is better)."""
        objs = self._near_vector(
            self._embeddings.embed_query(query), k, build_filters(kwargs.get("filters"))
        )
        return [(self._to_document(o), 1.0 - float(o.metadata.distance or 0.0)) for o in objs]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """Vector-only search, best first."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def hybrid_query(self, query: str, qvec: Sequence[float], limit: int, filters=None):
        """The raw Weaviate hybrid query (settings' alpha and fusion type), vectors included."""
        from weaviate.classes.query import HybridFusion, MetadataQuery

        return self._call(
            self._collection.query.hybrid,
            query=query,
            vector=list(qvec),
            alpha=self.settings.alpha,
            fusion_type=getattr(HybridFusion, FUSION_TYPES[self.settings.fusion_type]),
            query_properties=TEXT_PROPERTIES,
            target_vector=VECTOR,
            limit=limit,
            filters=filters,
            include_vector=[VECTOR],
            return_metadata=MetadataQuery(score=True, explain_score=True),
            return_properties=RETURN_PROPERTIES,
        ).objects

    def hybrid_search(
        self, query: str, k: int = 5, *, filters: DocFilter | Mapping[str, Any] | None = None
    ) -> list[Document]:
        """Hybrid BM25 + vector search, best first, with calibrated scores.

        Weaviate's hybrid query returns the top ``max(20, 4k)`` (so ``probe`` agrees with the
        first hit for any ``k <= 5``, as in the embedded index). Each hit is scored with
        :func:`tools.index.scoring.calibrated_score` from its cosine (returned vector) and
        query-term coverage, and ordered by that score plus ``HYBRID_ORDER_WEIGHT`` times its
        hybrid score relative to the best. Metadata: ``source``, ``chunk_id``, ``title``,
        ``score``, ``dense``, ``lexical``, ``hybrid`` (Weaviate's fused score) and ``rank``.
        ``filters``: a :class:`tools.index.filters.DocFilter`, or a mapping for
        :func:`build_filters`.
        """
        if k <= 0 or not query.strip():
            return []
        where = filters.to_weaviate() if isinstance(filters, DocFilter) else build_filters(filters)
        qvec = np.asarray(self._embeddings.embed_query(query), dtype=np.float32)
        objs = self.hybrid_query(query, qvec.tolist(), max(20, 4 * k), where)
        qnorm = float(np.linalg.norm(qvec)) or 1.0
        calibration = self.meta.score_calibration  # the ramp the collection was built with
        ramp = (calibration.cos_low, calibration.cos_high)
        q_terms = tokenize(query)
        best = max((float(o.metadata.score or 0.0) for o in objs), default=0.0)
        ranked = []
        for obj in objs:
            dense = _cosine(qvec, qnorm, (obj.vector or {}).get(VECTOR))
            lexical = lexical_coverage(q_terms, obj.properties.get("text") or "")
            score = calibrated_score(dense, lexical, ramp=ramp)
            hybrid = float(obj.metadata.score or 0.0)
            order = score + (HYBRID_ORDER_WEIGHT * hybrid / best if best > 0 else 0.0)
            ranked.append((order, obj, score, dense, lexical, hybrid))
            log.debug("hybrid %s: %s", obj.uuid, obj.metadata.explain_score)
        ranked.sort(key=lambda item: -item[0])  # stable: ties keep Weaviate's order
        results = []
        depth = max(k, RERANK_DEPTH) if self.reranker is not None else k
        for rank, (_, obj, score, dense, lexical, hybrid) in enumerate(ranked[:depth]):
            doc = self._with_standard_keys(self._to_document(obj), obj)
            for key in _RESERVED:
                doc.metadata.pop(key, None)
            doc.metadata.update(
                score=round(score, 4),
                dense=round(dense, 4),
                lexical=round(lexical, 4),
                hybrid=round(hybrid, 4),
                rank=rank,
            )
            results.append(doc)
        if self.reranker is not None:
            results = list(self.reranker.rerank(query, results, k))[:k]
        return results

    def candidates(self, query: str, depth: int) -> list[Candidate]:
        """Union of the top ``depth`` BM25 and vector hits, each with its cosine and ranks.

        Two separate queries (``bm25`` and ``near_vector``), the same candidates the embedded
        index hands to :func:`tools.index.scoring.fuse`, for side-by-side comparisons.
        """
        from weaviate.classes.query import MetadataQuery

        qvec = np.asarray(self._embeddings.embed_query(query), dtype=np.float32)
        qnorm = float(np.linalg.norm(qvec)) or 1.0
        merged: dict[str, dict] = {}
        for rank, obj in enumerate(self._near_vector(qvec.tolist(), depth)):
            merged[str(obj.uuid)] = {
                "obj": obj,
                "dense": 1.0 - float(obj.metadata.distance or 0.0),
                "vector_rank": rank,
                "bm25_rank": None,
                "bm25_score": None,
            }
        bm25 = (
            self._call(
                self._collection.query.bm25,
                query=query,
                query_properties=TEXT_PROPERTIES,
                limit=depth,
                include_vector=[VECTOR],
                return_metadata=MetadataQuery(score=True),
                return_properties=RETURN_PROPERTIES,
            ).objects
            if query.strip()
            else []
        )
        for rank, obj in enumerate(bm25):
            entry = merged.get(str(obj.uuid))
            if entry is None:
                dense = _cosine(qvec, qnorm, (obj.vector or {}).get(VECTOR))
                entry = merged[str(obj.uuid)] = {"obj": obj, "dense": dense, "vector_rank": None}
            entry["bm25_rank"] = rank
            entry["bm25_score"] = float(obj.metadata.score or 0.0)
        return [
            Candidate(
                self._with_standard_keys(self._to_document(e["obj"]), e["obj"]),
                e["dense"],
                bm25_score=e["bm25_score"],
                bm25_rank=e["bm25_rank"],
                vector_rank=e["vector_rank"],
            )
            for e in merged.values()
        ]

    def probe(self, query: str) -> float:
        """Confidence probe: the calibrated score of the top hybrid result (0.0 if none)."""
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
        settings: WeaviateSettings | None = None,
        **kwargs: Any,
    ) -> WeaviateIndex:
        """Open (creating if needed) the configured collection and tenant, upsert ``texts``."""
        index = cls.open(embedding, settings, create=True)
        index.add_texts(texts, metadatas, ids=ids)
        return index
