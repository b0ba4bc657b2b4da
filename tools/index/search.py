"""Search as the graph uses it: hybrid search (with optional multi-hop) as JSON-friendly ``Doc``s.

``Doc`` is the record every step passes around (a retrieved chunk or a web result). It lives
here, below the graph, so the text algorithms in ``tools/text`` can take it without importing
the graph.
"""

from __future__ import annotations

from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import NotRequired  # pydantic < 3.12 rejects typing's

from typing_extensions import TypedDict

from tools.index.base import HybridIndex, IndexCorruptedError, IndexError_
from tools.index.filters import DocFilter, FilterError


class Doc(TypedDict):
    """A retrieved chunk or web result, JSON-friendly so Studio and the API can show it."""

    id: str
    """Stable chunk id (``source#n``) or the URL of a web result."""
    content: str
    """The chunk text."""
    source: str
    """File path or URL the chunk came from."""
    title: str
    """Document title, shown in citations."""
    score: float
    """Calibrated relevance in [0, 1] (1.0 for web results, which carry no comparable score)."""
    display: NotRequired[str]
    """What a citation shows: the path under the ingest root, or the URL (never a server path)."""
    page: NotRequired[int]
    """The PDF page (1-based) the chunk comes from."""
    section: NotRequired[str]
    """The heading path above the chunk (``Install > Debian``), where the document has one."""
    lexical_failed: NotRequired[str]
    """Set when the search's BM25 half failed and it fell back to vectors alone: why."""


def display_name(doc: Doc) -> str:
    """The citation label of ``doc``: its ``display``, else its URL or file name."""
    if doc.get("display"):
        return doc["display"]
    source = doc["source"]
    return source if "://" in source else PurePath(source).name


def public_id(chunk_id: str, display: str) -> str:
    """A chunk id (``/srv/docs/guide.md#3``) with its server path replaced by ``display``
    (``guide.md#3``): citations never show where the server keeps its files.

    URLs (web results, ingested pages) and ids that are not absolute paths (a dataset's
    passage ids) stay as they are.
    """  # noqa: D205
    path, sep, n = chunk_id.rpartition("#")
    where = path or chunk_id
    if "://" in chunk_id or not (
        PurePosixPath(where).is_absolute() or PureWindowsPath(where).is_absolute()
    ):
        return chunk_id
    return f"{display}#{n}" if sep and n.isdigit() else display


def unreadable_index_message(index: HybridIndex, exc: Exception) -> str:
    """What is wrong with an index that opened but cannot be searched, and how to fix it."""
    # The first line of the backend's error, without the Rust source paths lance appends.
    cause = (str(exc).splitlines() or [type(exc).__name__])[0].split(", /")[0][:160]
    data_dir = index.data_dir
    if data_dir is None:
        return f"The index cannot be searched ({cause}). Check the index server, then retry."
    return (
        f"The index at {data_dir} is damaged ({cause}). Rebuild it: delete {data_dir}/lancedb "
        f"and {data_dir}/record_manager.sqlite, then run `arag ingest PATH` again."
    )


def search(
    index: HybridIndex,
    query: str,
    k: int,
    *,
    multihop: bool = False,
    filters: DocFilter | None = None,
) -> list[Doc]:
    """Hybrid search, as JSON-friendly documents carrying source, chunk id and score.

    ``filters`` restricts it to the documents whose ingest metadata matches
    (:class:`tools.index.filters.DocFilter`); without one the backend is called as before.

    With ``multihop``, one hop of entity expansion (:func:`tools.index.multihop.expand_search`):
    the top hit stays first and the best document found through the names it mentions takes a
    slot, so a bridge question's second document is retrieved without an LLM.
    Raises ``IndexError_`` with the fix when the index opened but its data cannot be read (a
    truncated or deleted data file): the backends raise their own errors for that.
    """
    try:
        if multihop:
            from tools.index.multihop import expand_search

            hits = expand_search(index, query, k=k, filters=filters)
        elif filters:
            hits = index.hybrid_search(query, k=k, filters=filters)
        else:
            hits = index.hybrid_search(query, k=k)
    except (IndexError_, FilterError):
        raise
    except Exception as exc:  # lancedb/weaviate raise RuntimeError/OSError/... variants
        raise IndexCorruptedError(unreadable_index_message(index, exc)) from exc
    docs: list[Doc] = []
    for d in hits:
        doc: Doc = {
            "id": d.metadata.get("chunk_id") or d.id or "",
            "content": d.page_content,
            "source": d.metadata.get("source", ""),
            "title": d.metadata.get("title", ""),
            "score": round(float(d.metadata.get("score", 0.0)), 4),
        }
        doc["display"] = d.metadata.get("display") or display_name(doc)
        if d.metadata.get("page"):
            doc["page"] = int(d.metadata["page"])
        if d.metadata.get("section"):
            doc["section"] = str(d.metadata["section"])
        if d.metadata.get("lexical_failed"):
            doc["lexical_failed"] = str(d.metadata["lexical_failed"])
        docs.append(doc)
    return docs
