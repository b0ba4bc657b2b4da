"""Weaviate set-up: settings, connection, errors, the collection's declaration and filters.

Everything here is plain configuration for :mod:`tools.index.weaviate`, which holds the index
itself; it is kept apart so that the index class reads on its own and the declarations can be
unit-tested without a server.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tools.index.base import IndexCorruptedError, IndexError_, IndexMeta

log = logging.getLogger(__name__)

VECTOR = "default"  # the named vector holding our embeddings
TEXT_PROPERTIES = ["text"]  # what BM25 searches (the chunk text, as in the embedded index)
RETURN_PROPERTIES = ["doc_id", "text", "source", "chunk_id", "title", "metadata_json"]
META_PREFIX = "arag-index-meta:"  # marks the JSON index metadata in the collection description
FUSION_TYPES = {"relativeScore": "RELATIVE_SCORE", "ranked": "RANKED"}
ID_BATCH = 500  # ids per ``contains_any`` filter
EMBED_BATCH = 256  # texts per embedding call
MAX_WRITE_ATTEMPTS = 3  # batch import attempts for objects the server rejected
RETRY_BACKOFF = 0.5  # seconds before the second attempt, doubled after each further failure
# Within one query, the hybrid score breaks near-ties of the calibrated score (as raw BM25
# does in tools.index.scoring.fuse): it carries the configured alpha and fusion type.
HYBRID_ORDER_WEIGHT = 0.5
DOCKER_RUN = (
    "docker run -p 8080:8080 -p 50051:50051 cr.weaviate.io/semitechnologies/weaviate:1.33.0"
)
_COLLECTION_NAME = re.compile(r"^[A-Z][_0-9A-Za-z]*$")
_TENANT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CLOUD_HOSTS = (".weaviate.cloud", ".weaviate.network", ".wcs.api.weaviate.io")
_RESERVED = frozenset({"score", "dense", "lexical", "rank", "hybrid"})


class IndexUnavailableError(IndexError_):
    """Weaviate cannot be reached, refuses our credentials, or failed a request."""


class IndexWriteError(IndexError_):
    """Some chunks were still rejected by Weaviate after the bounded retries."""


class IndexConfigError(IndexError_, ValueError):
    """A Weaviate setting is missing or invalid (the message names it and the valid values)."""


@dataclass(frozen=True)
class WeaviateSettings:
    """Where the Weaviate index lives and how it is queried.

    ``url`` is the REST endpoint (``http://localhost:8080`` or a Weaviate Cloud cluster URL);
    ``grpc_url`` defaults to the same host on port 50051 (Weaviate Cloud needs none).
    ``alpha`` weighs vector against BM25 in the hybrid query (1 = vector only) and
    ``fusion_type`` is ``"relativeScore"`` or ``"ranked"``. The API key is never a setting: it
    is read from ``WEAVIATE_API_KEY`` when connecting.
    """

    url: str
    collection: str = "AragChunks"
    tenant: str = "default"
    alpha: float = 0.5
    fusion_type: str = "relativeScore"
    grpc_url: str = ""
    timeout: float = 30.0

    @classmethod
    def from_env(cls) -> WeaviateSettings:
        """Settings from the environment (defaults as above).

        Variables: ``WEAVIATE_URL``, ``WEAVIATE_GRPC_URL``, ``ARAG_WEAVIATE_COLLECTION``,
        ``ARAG_TENANT``, ``ARAG_HYBRID_ALPHA`` and ``ARAG_FUSION_TYPE``.
        """
        env = os.environ.get
        return cls(
            url=env("WEAVIATE_URL", ""),
            collection=env("ARAG_WEAVIATE_COLLECTION") or cls.collection,
            tenant=env("ARAG_TENANT") or cls.tenant,
            alpha=float(env("ARAG_HYBRID_ALPHA") or cls.alpha),
            fusion_type=env("ARAG_FUSION_TYPE") or cls.fusion_type,
            grpc_url=env("WEAVIATE_GRPC_URL", ""),
        )

    @classmethod
    def from_context(cls, ctx: Any) -> WeaviateSettings:
        """Settings from a run's ``graph.config.Context`` (gRPC URL from the environment)."""
        return cls(
            url=ctx.weaviate_url,
            collection=ctx.weaviate_collection,
            tenant=ctx.weaviate_tenant(),  # the workspace's tenant
            alpha=ctx.hybrid_alpha,
            fusion_type=ctx.fusion_type,
            grpc_url=os.environ.get("WEAVIATE_GRPC_URL", ""),
        )

    def validate(self) -> None:
        """Raise ``IndexConfigError`` naming the bad setting and the accepted values."""
        if not self.url:
            raise IndexConfigError(
                "ARAG_INDEX=weaviate needs WEAVIATE_URL (e.g. http://localhost:8080 or your "
                "Weaviate Cloud cluster URL)."
            )
        if urlsplit(self.url).scheme not in ("http", "https") or not urlsplit(self.url).hostname:
            raise IndexConfigError(f"WEAVIATE_URL must be an http(s) URL, not {self.url!r}.")
        if not _COLLECTION_NAME.match(self.collection):
            raise IndexConfigError(
                f"Weaviate collection name {self.collection!r} must start with a capital letter "
                "and contain only letters, digits and underscores."
            )
        if not _TENANT_NAME.match(self.tenant):
            raise IndexConfigError(
                f"Tenant {self.tenant!r} must be 1-64 letters, digits, '-' or '_'."
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise IndexConfigError(f"ARAG_HYBRID_ALPHA must be in [0, 1], not {self.alpha}.")
        if self.fusion_type not in FUSION_TYPES:
            raise IndexConfigError(
                f"ARAG_FUSION_TYPE must be one of {sorted(FUSION_TYPES)}, not {self.fusion_type!r}."
            )


# ---------------------------------------------------------------------- connection


def is_cloud_url(url: str) -> bool:
    """Whether ``url`` is a Weaviate Cloud cluster (uses ``connect_to_weaviate_cloud``)."""
    host = urlsplit(url).hostname or ""
    return host.endswith(_CLOUD_HOSTS)


def connect(settings: WeaviateSettings):
    """Open a ``weaviate.WeaviateClient`` for ``settings``; errors say what to fix.

    Weaviate Cloud URLs use ``connect_to_weaviate_cloud`` (API key required); anything else uses
    ``connect_to_custom`` with gRPC on ``grpc_url`` (default: same host, port 50051).
    """
    import weaviate
    from weaviate.classes.init import AdditionalConfig, Auth, Timeout
    from weaviate.exceptions import WeaviateBaseError

    settings.validate()
    api_key = os.environ.get("WEAVIATE_API_KEY") or None
    auth = Auth.api_key(api_key) if api_key else None
    config = AdditionalConfig(
        timeout=Timeout(
            init=min(settings.timeout, 10.0),
            query=settings.timeout,
            insert=max(settings.timeout, 60.0),
        )
    )
    url = urlsplit(settings.url)
    try:
        if is_cloud_url(settings.url):
            if auth is None:
                raise IndexUnavailableError(
                    f"Weaviate Cloud at {settings.url} needs an API key: set WEAVIATE_API_KEY."
                )
            return weaviate.connect_to_weaviate_cloud(
                cluster_url=settings.url, auth_credentials=auth, additional_config=config
            )
        secure = url.scheme == "https"
        grpc = (
            urlsplit(settings.grpc_url if "//" in settings.grpc_url else f"//{settings.grpc_url}")
            if settings.grpc_url
            else None
        )
        return weaviate.connect_to_custom(
            http_host=url.hostname,
            http_port=url.port or (443 if secure else 80),
            http_secure=secure,
            grpc_host=(grpc.hostname if grpc else None) or url.hostname,
            grpc_port=(grpc.port if grpc else None) or 50051,
            grpc_secure=(grpc.scheme == "https") if grpc and grpc.scheme else secure,
            auth_credentials=auth,
            additional_config=config,
        )
    except WeaviateBaseError as exc:
        raise unavailable(settings, exc) from exc


def unavailable(settings: WeaviateSettings, exc: Exception) -> IndexUnavailableError:
    """An ``IndexUnavailableError`` for a failed Weaviate call, with the fix for its cause."""
    from weaviate.exceptions import (
        AuthenticationFailedError,
        UnexpectedStatusCodeError,
        WeaviateConnectionError,
        WeaviateGRPCUnavailableError,
        WeaviateStartUpError,
        WeaviateTimeoutError,
    )

    detail = " ".join(str(exc).split())[:300]
    status = getattr(exc, "status_code", None)
    if isinstance(exc, AuthenticationFailedError) or status in (401, 403):
        fix = "Check WEAVIATE_API_KEY (and that the key may use this collection)."
    elif isinstance(exc, WeaviateGRPCUnavailableError):
        fix = (
            "The REST port answered but gRPC did not: expose port 50051 or set "
            "WEAVIATE_GRPC_URL to the gRPC host:port."
        )
    elif isinstance(exc, WeaviateConnectionError | WeaviateStartUpError | WeaviateTimeoutError):
        fix = (
            f"Is Weaviate running? Start one with `{DOCKER_RUN}`, or fix WEAVIATE_URL, or unset "
            "ARAG_INDEX to use the embedded index."
        )
    elif isinstance(exc, UnexpectedStatusCodeError):
        fix = "The server rejected the request; see its message above."
    else:
        fix = "See the server message above."
    return IndexUnavailableError(
        f"Cannot use the Weaviate index at {settings.url} "
        f"(collection {settings.collection}, tenant {settings.tenant}): {detail} {fix}"
    )


# ---------------------------------------------------------------------- collection schema


def collection_spec(name: str, meta: IndexMeta, languages: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments for ``client.collections.create`` declaring our chunk collection.

    No vectorizer (vectors are ours, named ``default``, cosine HNSW); ``text`` and ``title``
    BM25-searchable; ``source``, ``chunk_id``, ``doc_id``, ``language`` and ``ingested_at``
    filterable; other metadata kept as unindexed JSON; multi-tenancy on; the embedding model,
    dimensions and corpus languages recorded in the description.
    """
    from weaviate.classes.config import Configure, DataType, Property, Tokenization
    from weaviate.classes.config import VectorDistances as Distances

    def keyword(prop: str, description: str) -> Property:
        # FIELD tokenization: the whole value is one token, so equality filters are exact.
        return Property(
            name=prop,
            data_type=DataType.TEXT,
            description=description,
            tokenization=Tokenization.FIELD,
            index_filterable=True,
            index_searchable=False,
        )

    return {
        "name": name,
        "description": describe(meta, languages),
        "vector_config": Configure.Vectors.self_provided(
            name=VECTOR,
            vector_index_config=Configure.VectorIndex.hnsw(distance_metric=Distances.COSINE),
        ),
        "properties": [
            Property(
                name="text",
                data_type=DataType.TEXT,
                description="Chunk text (BM25-searchable)",
                tokenization=Tokenization.WORD,
                index_searchable=True,
                index_filterable=False,
            ),
            Property(
                name="title",
                data_type=DataType.TEXT,
                description="Document title",
                tokenization=Tokenization.WORD,
                index_searchable=True,
                index_filterable=True,
            ),
            keyword("doc_id", "LangChain document id (the record manager's key)"),
            keyword("source", "Source file or URL"),
            keyword("chunk_id", "Stable chunk id: <source>#<n>"),
            keyword("language", "ISO 639-1 language of the chunk"),
            keyword("display", "The document's path under its ingest root, or its URL"),
            keyword("file_type", "The document's type (its extension; html for a web page)"),
            Property(
                name="tags",
                data_type=DataType.TEXT_ARRAY,
                description="Tags given at ingest",
                tokenization=Tokenization.FIELD,
                index_filterable=True,
                index_searchable=False,
            ),
            Property(
                name="ingested_at",
                data_type=DataType.DATE,
                description="When the chunk was written",
                index_filterable=True,
                index_range_filters=True,
            ),
            Property(
                name="metadata_json",
                data_type=DataType.TEXT,
                description="The document's metadata as JSON (not indexed)",
                index_filterable=False,
                index_searchable=False,
            ),
        ],
        "multi_tenancy_config": Configure.multi_tenancy(
            enabled=True, auto_tenant_creation=True, auto_tenant_activation=True
        ),
    }


def describe(meta: IndexMeta, languages: Mapping[str, str]) -> str:
    """The collection description: a readable line, then the index metadata as JSON."""
    record = {
        "embedding_model": meta.embedding_model,
        "dimensions": meta.dimensions,
        "backend": "weaviate",
        "languages": dict(languages),
    }
    if meta.calibration:  # the cosine ramp the collection was built with
        record["calibration"] = meta.calibration
    return f"Adaptive RAG chunks. {META_PREFIX}{json.dumps(record, sort_keys=True)}"


def parse_description(description: str | None, where: str) -> tuple[IndexMeta, dict[str, str]]:
    """Index metadata and per-tenant languages from a collection description.

    Raises ``IndexCorruptedError`` when the collection was not created by this adapter.
    """
    text = description or ""
    start = text.find(META_PREFIX)
    try:
        if start < 0:
            raise ValueError("no index metadata in its description")
        raw = json.loads(text[start + len(META_PREFIX) :])
        meta = IndexMeta(
            embedding_model=str(raw["embedding_model"]),
            dimensions=int(raw["dimensions"]),
            backend="weaviate",
            calibration=dict(raw.get("calibration") or {}),
        )
        languages = {str(k): str(v) for k, v in dict(raw.get("languages") or {}).items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptedError(
            f"{where} was not created by arag ({exc}). Choose another collection with "
            "ARAG_WEAVIATE_COLLECTION, or delete this one."
        ) from exc
    return meta, languages


def build_filters(filters: Mapping[str, Any] | None):
    """A Weaviate filter for metadata ``filters`` (``None`` when empty).

    Keys ``source``, ``chunk_id``, ``language`` and ``title`` match exactly (a list or tuple
    matches any of its values); ``ingested_after`` / ``ingested_before`` take a ``datetime``.
    Several keys must all match. Unknown keys raise ``ValueError``.
    """
    from weaviate.classes.query import Filter

    parts = []
    for key, value in (filters or {}).items():
        if key in ("source", "chunk_id", "language", "title"):
            prop = Filter.by_property(key)
            if isinstance(value, list | tuple | set | frozenset):
                parts.append(prop.contains_any([str(v) for v in value]))
            else:
                parts.append(prop.equal(str(value)))
        elif key in ("ingested_after", "ingested_before"):
            if not isinstance(value, datetime):
                raise ValueError(f"{key} must be a datetime, not {type(value).__name__}")
            when = value if value.tzinfo else value.replace(tzinfo=UTC)
            prop = Filter.by_property("ingested_at")
            parts.append(
                prop.greater_or_equal(when) if key == "ingested_after" else prop.less_than(when)
            )
        else:
            raise ValueError(
                f"Unknown filter {key!r}; use source, chunk_id, language, title, "
                "ingested_after or ingested_before."
            )
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Filter.all_of(parts)


def object_uuid(doc_id: str) -> str:
    """Weaviate's object UUID for our document id (deterministic, so re-ingesting upserts)."""
    from weaviate.util import generate_uuid5

    return generate_uuid5(doc_id)
