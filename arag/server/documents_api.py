"""Ingestion over the API: add documents to a workspace (upload or URL), list them, delete one.

- ``GET /v1/workspaces``: the workspaces this key may read.
- ``GET /v1/workspaces/{workspace}/documents``: its documents (``id``, ``name``, ``chunks``);
  needs read access.
- ``POST /v1/workspaces/{workspace}/documents``: a ``multipart/form-data`` body with ``file``
  parts (uploads) and/or ``url`` fields (fetched through the SSRF guard of ``arag ingest
  URL``; URLs alone may be a urlencoded form), and ``tag`` fields that document filters
  find; needs write access. The same pipeline as
  ``arag ingest``, under the same writer lock: idempotent (the same file twice adds
  nothing), one result per file (``added``, ``updated``, ``unchanged`` or ``failed`` with the
  reason, and its chunks), the run's chunk counts, and the workspace's generation bumped so
  every server process searches the new documents on its next query.
- ``DELETE /v1/workspaces/{workspace}/documents/{id}``: removes one; 404 for an unknown id.

Bad input loses nothing: a file of an unsupported type or a value that is no http(s) URL is a
400 before anything is written; a body over the upload limit (``ARAG_MAX_FILE_MB`` plus 1 MB
for the form) is a 413 before it is read; a file that fails to load is reported and its
upload removed.
"""

# No "from __future__ import annotations": FastAPI resolves the route signatures.
import asyncio
import dataclasses
import functools
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sse_starlette.sse import EventSourceResponse
from starlette.datastructures import UploadFile

from arag.server.access import Access
from arag.server.errors import ApiError, invalid_request, not_found
from arag.server.guard import guarded_route
from arag.server.ingest_progress import Progress, progress_events, wants_events
from arag.server.settings import ServerSettings
from arag.server.turns import authenticate
from graph.config import Context

MAX_PARTS = 100
"""Files plus URLs one request may name (the form parser refuses more)."""
_LIST = {"type": "array", "maxItems": MAX_PARTS}
UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": _LIST | {"items": {"type": "string", "format": "binary"}},
                        "url": _LIST | {"items": {"type": "string", "format": "uri"}},
                        "tag": _LIST | {"items": {"type": "string"}},
                    },
                }
            }
        },
    }
}
"""The form the upload route reads itself (``_form``), declared for ``/openapi.json``."""
LOCK_WAIT = 30.0
"""Seconds a request waits for another ingest into the same workspace before a 409."""


def upload_limit() -> int:
    """Bytes an upload request may carry: the largest file ingestion accepts, plus the form."""
    from tools.ingest.loaders import max_file_bytes

    return max_file_bytes() + (1 << 20)


def _location(ctx: Context, workspace: str) -> tuple[Context, dict[str, Any]]:
    """The run settings of ``workspace`` and the ``backend``/``weaviate`` keywords for it."""
    wctx = dataclasses.replace(ctx, workspace=workspace)
    weaviate = None
    if wctx.index_backend == "weaviate":
        from tools.index.weaviate import WeaviateSettings

        weaviate = WeaviateSettings.from_context(wctx)
    return wctx, {"backend": wctx.index_backend, "weaviate": weaviate}


def busy(exc: Exception) -> ApiError:
    """409: another ingest holds the workspace's writer lock (nothing was changed)."""
    return ApiError(
        409,
        "Another ingest is writing to this workspace; nothing was changed. Retry when it is done.",
        "conflict_error",
        "ingest_busy",
    )


def _index_error(exc: Exception) -> ApiError:
    """An index error (embeddings mismatch, damaged index, full disk) as a 500 or 507."""
    from arag.server.health import public_reason
    from tools.index.base import DiskFullError

    status = 507 if isinstance(exc, DiskFullError) else 500
    return ApiError(status, public_reason(str(exc)), "server_error", "index_error")


def router(settings: ServerSettings, access: Access, ctx: Context) -> APIRouter:
    """The ingestion routes for the workspaces under ``ctx.data_dir``."""
    # Uploads need a larger body than chat requests; the key is still checked before it is read.
    keyed = guarded_route(settings, keyed=True)
    upload_route = guarded_route(
        dataclasses.replace(settings, max_body_bytes=upload_limit()), keyed=True
    )
    api = APIRouter(prefix="/v1", route_class=keyed)
    uploads = APIRouter(prefix="/v1", route_class=upload_route)
    Owner = Annotated[str, Depends(authenticate(settings))]

    @api.get("/workspaces")
    async def list_workspaces(owner: Owner) -> dict[str, Any]:
        """The existing workspaces this key may read."""
        names = await asyncio.to_thread(access.readable_workspaces, owner)
        return {"object": "list", "data": [{"object": "workspace", "id": n} for n in names]}

    @api.get("/workspaces/{workspace}/documents")
    async def list_documents(workspace: str, owner: Owner) -> dict[str, Any]:
        """The documents of a workspace, by name."""
        from tools.ingest.documents import list_documents, record_namespace

        workspace = await access.areadable(owner, workspace)
        wctx, where = _location(ctx, workspace)
        namespace = record_namespace(where["backend"], where["weaviate"])
        docs = await asyncio.to_thread(list_documents, wctx.index_dir(), namespace)
        return {
            "object": "list",
            "workspace": workspace,
            "data": [{"object": "document", **dataclasses.asdict(d)} for d in docs],
        }

    @uploads.post(
        "/workspaces/{workspace}/documents",
        openapi_extra=UPLOAD_SCHEMA,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def add_documents(request: Request, workspace: str, owner: Owner) -> Any:
        """Ingest the uploaded files and URLs; one result per file (as events, if asked)."""
        workspace = access.writable(owner, workspace)
        files, urls, tags = await _form(request)
        wctx, where = _location(ctx, workspace)
        if wants_events(request.headers.get("accept", "")):
            run = functools.partial(_ingest, wctx, where, workspace, files, urls, tags)
            return EventSourceResponse(
                progress_events(lambda progress: run(on_progress=progress)),
                headers={"Cache-Control": "no-cache"},
            )
        return await asyncio.to_thread(_ingest, wctx, where, workspace, files, urls, tags)

    @api.delete("/workspaces/{workspace}/documents/{doc_id}")
    async def delete_document(workspace: str, doc_id: str, owner: Owner) -> dict[str, Any]:
        """Remove one document (its chunks and records) from the workspace."""
        workspace = access.writable(owner, workspace)
        wctx, where = _location(ctx, workspace)
        deleted = await asyncio.to_thread(_delete, wctx, where, doc_id)
        if deleted is None:
            raise not_found(
                f"No document {doc_id[:80]!r} in workspace {workspace!r}.", "document_not_found"
            )
        return {"object": "document.deleted", "deleted": True, **dataclasses.asdict(deleted)}

    combined = APIRouter()
    combined.include_router(api)
    combined.include_router(uploads)
    return combined


async def _form(request: Request) -> tuple[list[tuple[str, bytes]], list[str], list[str]]:
    """The uploads (name, bytes), URLs and tags of a multipart body, checked before anything
    is written: a 400 names the first part that cannot be ingested.
    """  # noqa: D205
    from tools.index.filters import FilterError, check_tag
    from tools.ingest.documents import unsupported_type

    kind = request.headers.get("content-type", "")
    if not kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise invalid_request(
            "Send the documents as multipart/form-data: 'file' parts and/or 'url' fields "
            "(URLs alone may also be a urlencoded form).",
            "invalid_content_type",
        )
    try:
        form = await request.form(max_files=MAX_PARTS, max_fields=MAX_PARTS)
    except Exception as exc:  # noqa: BLE001 - the parser's errors are the client's
        raise invalid_request(f"Unreadable multipart body: {exc}.", "invalid_body") from None
    files: list[tuple[str, bytes]] = []
    urls: list[str] = []
    tags: list[str] = []
    try:
        for key, value in form.multi_items():
            if key == "file" and isinstance(value, UploadFile):
                name = value.filename or "upload"
                if unsupported_type(name):
                    raise invalid_request(
                        f"{name[:120]!r} is of an unsupported type ({Path(name).suffix}); "
                        "nothing was ingested. Send PDF, Markdown, text, reStructuredText, "
                        "HTML or DOCX files.",
                        "unsupported_file_type",
                        param="file",
                    )
                files.append((name, await value.read()))
            elif key == "url" and isinstance(value, str):
                url = value.strip()
                if not url.lower().startswith(("http://", "https://")):
                    raise invalid_request(
                        f"{url[:120]!r} is not an http(s) URL; nothing was ingested.",
                        "invalid_url",
                        param="url",
                    )
                urls.append(url)
            elif key == "tag" and isinstance(value, str):
                try:
                    tags.append(check_tag(value.strip()))
                except FilterError as exc:
                    raise invalid_request(str(exc), "invalid_tag", param="tag") from None
            else:
                raise invalid_request(
                    f"Unexpected form field {key[:40]!r}: send 'file' parts, 'url' and 'tag' "
                    "fields.",
                    "invalid_body",
                    param=key[:40],
                )
    finally:
        await form.close()
    if not files and not urls:
        raise invalid_request("Nothing to ingest: send 'file' parts or 'url' fields.")
    return files, urls, tags


def _ingest(
    wctx: Context,
    where: dict[str, Any],
    workspace: str,
    files: list[tuple[str, bytes]],
    urls: list[str],
    tags: list[str],
    *,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Store the uploads and run the ingest pipeline over them and the URLs (a worker thread).

    ``on_progress(done, total, name)`` follows the pipeline file by file.
    """
    from tools.embeddings import load_embeddings
    from tools.index.base import IndexError_
    from tools.ingest.documents import (
        discard_upload,
        display_name,
        document_id,
        record_namespace,
        source_keys,
        store_upload,
    )
    from tools.ingest.lock import IngestBusyError
    from tools.ingest.pipeline import ingest

    index_dir = wctx.index_dir()
    namespace = record_namespace(where["backend"], where["weaviate"])
    stored = [store_upload(index_dir, name, data) for name, data in files]
    items = [str(p) for p in stored] + urls  # also the sources the records name
    before = source_keys(index_dir, items, namespace)
    parts = list(zip(items, [n for n, _ in files] + urls, strict=True))  # (source, name)
    names = dict(parts)

    def progress(done: int, total: int, item: Any) -> None:
        if on_progress is not None:
            on_progress(done, total, display_name(names.get(str(item), str(item))))

    try:
        report = ingest(
            items,
            index_dir,
            load_embeddings(wctx.embeddings),
            cleanup="incremental",
            tags=tags,
            wait=LOCK_WAIT,
            on_progress=progress,
            **where,
        )
    except IngestBusyError as exc:
        raise busy(exc) from None
    except IndexError_ as exc:
        raise _index_error(exc) from None
    failed = dict(report.files_failed)
    replaced: set[str] = set()
    for path in stored:
        if str(path) in failed:
            discard_upload(path)  # never ingested: keep no copy
            continue
        try:  # the new version is in: its earlier versions go (a failed one replaces nothing)
            replaced.update(_replace_earlier(wctx, where, index_dir, path, namespace))
        except IngestBusyError as exc:  # a retry finds the new version unchanged, and goes on
            raise busy(exc) from None
        except IndexError_ as exc:
            raise _index_error(exc) from None
    after = source_keys(index_dir, items, namespace)
    results = []
    for source, name in parts:
        entry: dict[str, Any] = {"name": display_name(name), "id": document_id(source)}
        if source in failed:
            entry |= {"status": "failed", "error": failed[source]}
        else:
            status = _status(before.get(source), after.get(source, frozenset()))
            entry["status"] = "updated" if status == "added" and source in replaced else status
            entry["chunks"] = len(after.get(source, ()))
        results.append(entry)
    return {
        "object": "ingest.result",
        "workspace": workspace,
        "documents": results,
        "chunks": {
            "added": report.num_added,
            "updated": report.num_updated,
            "unchanged": report.num_skipped,
            "deleted": report.num_deleted,
            "total": report.chunks_total,
        },
    }


def _replace_earlier(
    wctx: Context, where: dict[str, Any], index_dir: Any, upload: Any, namespace: str
) -> set[str]:
    """Delete the earlier uploads under ``upload``'s name; the new upload's source if any."""
    from tools.embeddings import load_embeddings
    from tools.ingest.documents import delete_document, document_id, earlier_uploads

    earlier = earlier_uploads(index_dir, upload, namespace)
    for source in earlier:
        delete_document(
            index_dir,
            load_embeddings(wctx.embeddings),
            document_id(source),
            wait=LOCK_WAIT,
            **where,
        )
    return {str(upload)} if earlier else set()


def _status(before: frozenset[str] | None, after: frozenset[str]) -> str:
    """``added`` (new), ``unchanged`` (the same chunks) or ``updated`` (its chunks changed)."""
    if before is None:
        return "added"
    return "unchanged" if before == after else "updated"


def _delete(wctx: Context, where: dict[str, Any], doc_id: str) -> Any:
    """:func:`tools.ingest.documents.delete_document` with the API's errors (worker thread)."""
    from tools.embeddings import load_embeddings
    from tools.index.base import IndexError_
    from tools.ingest.documents import delete_document
    from tools.ingest.lock import IngestBusyError

    try:
        return delete_document(
            wctx.index_dir(), load_embeddings(wctx.embeddings), doc_id, wait=LOCK_WAIT, **where
        )
    except IngestBusyError as exc:
        raise busy(exc) from None
    except IndexError_ as exc:
        raise _index_error(exc) from None
