"""Split loaded documents into token-bounded chunks with stable ids and their title attached.

Lengths are counted in WordLlama tokenizer tokens (tiktoken would need to download its encoding,
which the offline mode cannot do). Each chunk starts with its document's title line so that a
query naming the document's subject finds every chunk of it, not just the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

TokenCounter = Callable[[str], int]


def default_token_count() -> TokenCounter:
    """Return the offline WordLlama token counter (the model loads on its first call)."""
    from tools.embeddings import load_embeddings

    return load_embeddings("wordllama").token_count


def _with_title(title: str, text: str) -> str:
    # A first line that already names the title ("# Title" in Markdown) needs no prefix.
    first_line = text.lstrip().split("\n", 1)[0]
    if not title or title in first_line:
        return text
    return f"{title}\n\n{text}"


def chunk_documents(
    docs: Iterable[Document],
    *,
    chunk_tokens: int = 800,
    overlap_tokens: int = 80,
    token_count: TokenCounter | None = None,
) -> list[Document]:
    """Split ``docs`` into chunks of at most ``chunk_tokens`` tokens (title line included).

    Splits on paragraphs, then lines, sentences and words (``RecursiveCharacterTextSplitter``),
    with ``overlap_tokens`` of overlap. Each chunk copies its document's metadata and adds
    ``chunk_id = f"{source}#{i}"`` where ``i`` counts chunks within that source from 0, so ids
    are stable as long as the file's text is. The chunk text starts with the ``title`` line
    unless its first line already contains the title; the title's tokens are reserved from the
    chunk budget.
    """
    count = token_count or default_token_count()
    per_source: dict[str, int] = {}
    chunks: list[Document] = []
    splitters: dict[int, RecursiveCharacterTextSplitter] = {}
    for doc in docs:
        title = str(doc.metadata.get("title") or "").strip()
        source = str(doc.metadata.get("source", ""))
        # Reserve room for the "Title\n\n" prefix so the final chunk stays within budget.
        budget = max(16, chunk_tokens - (count(title + "\n\n") if title else 0))
        splitter = splitters.get(budget)
        if splitter is None:
            splitter = splitters[budget] = RecursiveCharacterTextSplitter(
                chunk_size=budget,
                chunk_overlap=min(overlap_tokens, budget // 2),
                length_function=count,
                separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
                keep_separator="end",
                strip_whitespace=True,
            )
        for piece in splitter.split_text(doc.page_content):
            i = per_source.get(source, 0)
            per_source[source] = i + 1
            metadata = {**doc.metadata, "chunk_id": f"{source}#{i}"}
            chunks.append(Document(page_content=_with_title(title, piece), metadata=metadata))
    return chunks
