"""The documents of a workspace as the ingestion API shows them: list, store an upload, delete.

A document is one source in the record manager (a file path or a URL) with its chunks. Its id
is a hash of the source, stable across runs and processes, so a client can delete what it
listed; its name is what citations show (the file name, or the URL), never a server path.

Uploads are kept under ``<workspace>/uploads/<sha256 of the bytes>/<file name>``: the same
bytes land on the same path, so uploading a file twice is skipped by the same fingerprints
and record manager as a second ``arag ingest``. Other bytes under a name already uploaded are
a new version: :func:`earlier_uploads` finds the old ones, which the API then deletes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from tools.ingest.loaders import SUPPORTED_EXTS, is_url
from tools.ingest.lock import DEFAULT_WAIT_SECONDS, bump_generation, writer_lock
from tools.ingest.pipeline import (
    RECORD_DB,
    RECORD_NAMESPACE,
    FileFingerprints,
    chunk_counts,
    record_manager_for,
)

if TYPE_CHECKING:
    from tools.index.weaviate import WeaviateSettings

UPLOADS_DIR = "uploads"
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class DocumentInfo:
    """One document of a workspace."""

    id: str
    """Stable id (a hash of the source): what ``delete_document`` takes."""
    name: str
    """What citations show: the file name, or the URL."""
    chunks: int


def document_id(source: str) -> str:
    """The id of the document ingested from ``source``."""
    return "doc-" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:24]


def display_name(source: str) -> str:
    """A document's name for clients: the URL, or the file name (never the server path)."""
    return source if is_url(source) else Path(source).name


def safe_filename(name: str) -> str:
    """An uploaded file's name reduced to one harmless path component (its suffix kept)."""
    base = Path(name.replace("\\", "/")).name
    base = _UNSAFE.sub("_", base).strip(" .")[:120]
    return base or "upload"


def unsupported_type(name: str) -> bool:
    """Whether ingestion has no loader for a file called ``name`` (extensionless text is read)."""
    suffix = Path(name).suffix.lower()
    return bool(suffix) and suffix not in SUPPORTED_EXTS


def store_upload(workspace: str | os.PathLike, name: str, data: bytes) -> Path:
    """Write an upload where a second upload of the same bytes lands too; its path.

    Written to a temporary name and renamed, so a crash never leaves half a file to ingest.
    """
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(workspace).expanduser().resolve() / UPLOADS_DIR / digest[:32]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_filename(name)
    if not path.exists():
        tmp = folder / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def discard_upload(path: Path) -> None:
    """Remove an upload that was not ingested (it failed to load): nothing half-kept."""
    uploads = path.parent.parent
    if uploads.name == UPLOADS_DIR:
        shutil.rmtree(path.parent, ignore_errors=True)


def earlier_uploads(
    data_dir: str | os.PathLike, upload: Path, namespace: str = RECORD_NAMESPACE
) -> list[str]:
    """Sources of other uploads with ``upload``'s file name (earlier versions of it).

    Uploads live in folders named by their bytes, so an edited ``guide.md`` lands beside the
    old one; the ingestion API deletes these once the new version is in, as ``arag ingest``
    replaces a changed file.
    """
    local = Path(data_dir).expanduser().resolve()
    if not (local / RECORD_DB).exists():
        return []
    uploads = local / UPLOADS_DIR
    counts = chunk_counts(record_manager_for(local, namespace))
    return [
        src
        for src in counts
        if src
        and not is_url(src)
        and Path(src).name == upload.name
        and Path(src).parent.parent == uploads
        and Path(src) != upload
    ]


def record_namespace(backend: str, weaviate: WeaviateSettings | None) -> str:
    """The record manager namespace of a workspace's chunks (as its index reports it)."""
    if backend == "weaviate" and weaviate is not None:
        return f"weaviate/{weaviate.collection}/{weaviate.tenant}"
    return RECORD_NAMESPACE


def list_documents(
    data_dir: str | os.PathLike, namespace: str = RECORD_NAMESPACE
) -> list[DocumentInfo]:
    """Every document recorded in the workspace ``data_dir``, by name."""
    local = Path(data_dir).expanduser().resolve()
    if not (local / RECORD_DB).exists():
        return []
    counts = chunk_counts(record_manager_for(local, namespace))
    docs = [
        DocumentInfo(document_id(src), display_name(src), n) for src, n in counts.items() if src
    ]
    return sorted(docs, key=lambda d: (d.name, d.id))


def source_keys(
    data_dir: str | os.PathLike, sources: list[str], namespace: str = RECORD_NAMESPACE
) -> dict[str, frozenset[str]]:
    """The record keys (hashes of the chunks) the workspace holds for each of ``sources``.

    Compared before and after an ingest they tell a document added, updated or unchanged.
    """
    local = Path(data_dir).expanduser().resolve()
    if not (local / RECORD_DB).exists():
        return {}
    records = record_manager_for(local, namespace)
    found = {s: frozenset(records.list_keys(group_ids=[s])) for s in dict.fromkeys(sources)}
    return {s: keys for s, keys in found.items() if keys}


def delete_document(
    data_dir: str | os.PathLike,
    embeddings: Embeddings,
    doc_id: str,
    *,
    backend: str = "lancedb",
    weaviate: WeaviateSettings | None = None,
    wait: float = DEFAULT_WAIT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
) -> DocumentInfo | None:
    """Delete the document ``doc_id`` (its chunks, records, fingerprint and upload); None if
    there is none.

    Holds the workspace's writer lock, and bumps its generation so running servers stop
    citing the document on their next query.
    """  # noqa: D205
    from tools.index import open_index

    local = Path(data_dir).expanduser().resolve()
    if not (local / RECORD_DB).exists():
        return None
    with writer_lock(local, wait=wait, on_wait=on_wait, create=False):
        store = open_index(local, embeddings, backend=backend, weaviate=weaviate)
        with closing(store):
            records = record_manager_for(local, store.record_namespace)
            counts = chunk_counts(records)
            source = next((s for s in counts if s and document_id(s) == doc_id), None)
            if source is None:
                return None
            keys = records.list_keys(group_ids=[source])
            for start in range(0, len(keys), 1000):  # bounded id lists
                batch = keys[start : start + 1000]
                store.delete(batch)
                records.delete_keys(batch)
            FileFingerprints(local / RECORD_DB, store.record_namespace).put(source, "", "")
            store.refresh_fts()
        bump_generation(local)
    if not is_url(source) and (local / UPLOADS_DIR) in Path(source).parents:
        discard_upload(Path(source))
    return DocumentInfo(doc_id, display_name(source), counts[source])
