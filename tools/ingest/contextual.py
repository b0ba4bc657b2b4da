"""Contextual retrieval (Anthropic's method): an LLM-written context line for each chunk.

At ingest time, for every chunk the chat model reads the whole document and the chunk and
writes one or two sentences that situate the chunk (which company, which period, what the
section is about). That context is prepended to the chunk before it is embedded and indexed,
so that a chunk saying "revenue grew 3%" can be found by a question naming the company.

Off by default: it costs one LLM call per new chunk. Contexts are cached in
``<data_dir>/contextual_cache.sqlite``, keyed by a hash of model, document and chunk, so
re-ingesting unchanged text never calls the model again.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel

CACHE_FILE = "contextual_cache.sqlite"
MAX_DOCUMENT_CHARS = 24_000  # longer documents are cut (the head usually says what it is about)
MAX_CONTEXT_CHARS = 600

PROMPT = """<document>
{document}
</document>
Here is the chunk we want to situate within the whole document
<chunk>
{chunk}
</chunk>
Please give a short succinct context to situate this chunk within the overall document for the \
purposes of improving search retrieval of the chunk. Answer only with the succinct context and \
nothing else."""


class ContextCache:
    """A small sqlite key-value store of chunk contexts (thread-safe, one file per data dir)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS context (key TEXT PRIMARY KEY, text TEXT)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @staticmethod
    def key(model: str, document: str, chunk: str) -> str:
        """Cache key: SHA-256 of model id, document text and chunk text."""
        digest = hashlib.sha256()
        for part in (model, document, chunk):
            digest.update(part.encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()

    def get(self, key: str) -> str | None:
        """The cached context for ``key``, or ``None``."""
        with self._lock, self._connect() as db:
            row = db.execute("SELECT text FROM context WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, text: str) -> None:
        """Store (or replace) the context for ``key``."""
        with self._lock, self._connect() as db:
            db.execute("INSERT OR REPLACE INTO context (key, text) VALUES (?, ?)", (key, text))


@dataclass
class ContextStats:
    """What one contextualisation pass did: LLM calls made, cache hits, failures."""

    generated: int = 0
    cached: int = 0
    failed: int = 0


def model_name(llm: BaseChatModel) -> str:
    """A stable name for the chat model (part of the cache key)."""
    for attr in ("model_name", "model", "model_id"):
        value = getattr(llm, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(llm).__name__


def contextualize(
    chunks: list[Document],
    document: str,
    llm: BaseChatModel,
    cache: ContextCache,
    stats: ContextStats | None = None,
) -> list[Document]:
    """Return ``chunks`` (all from ``document``) with an LLM-written context prepended.

    Each chunk's context comes from ``cache`` when present, else from one ``llm`` call, then
    cached. The context is prepended (as in Anthropic's method) and kept in
    ``metadata["context"]``. A failed call leaves the chunk as it was (counted in
    ``stats.failed``) and is retried on the next ingest.
    """
    stats = stats if stats is not None else ContextStats()
    model = model_name(llm)
    doc_text = document[:MAX_DOCUMENT_CHARS]
    out = []
    for chunk in chunks:
        key = ContextCache.key(model, document, chunk.page_content)
        context = cache.get(key)
        if context is None:
            try:
                reply = llm.invoke(PROMPT.format(document=doc_text, chunk=chunk.page_content))
            except Exception:  # any provider error: index the chunk without context
                stats.failed += 1
                out.append(chunk)
                continue
            context = " ".join(str(reply.content).split())[:MAX_CONTEXT_CHARS]
            cache.put(key, context)
            stats.generated += 1
        else:
            stats.cached += 1
        if not context:
            out.append(chunk)
            continue
        text = f"{context}\n\n{chunk.page_content}"
        out.append(Document(page_content=text, metadata={**chunk.metadata, "context": context}))
    return out
