"""Split loaded documents into token-bounded chunks with stable ids and their context attached.

Lengths are counted in WordLlama tokenizer tokens (tiktoken would need to download its encoding,
which the offline mode cannot do). Each chunk starts with a breadcrumb line, the document title
and the Markdown section headings above the chunk (``Title > Section > Subsection``), so that a
query naming the document's subject or section finds every chunk of it, not just the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

TokenCounter = Callable[[str], int]

MARKDOWN_SUFFIXES = (".md", ".markdown")
HEADING_LEVELS = 3  # "#" to "###" start sections; deeper headings stay inside the text
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def default_token_count() -> TokenCounter:
    """Return the offline WordLlama token counter (the model loads on its first call)."""
    from tools.embeddings import load_embeddings

    return load_embeddings("wordllama").token_count


def markdown_sections(text: str) -> Iterator[tuple[list[str], str]]:
    """Split Markdown ``text`` at ``#``-``###`` headings: ``(heading path, section text)``.

    The heading line stays in its section's text; headings inside fenced code blocks are
    ignored. A section holding nothing but its heading is merged into the next one, so no
    chunk is a bare heading. Text before the first heading has an empty path.
    """
    path: list[str] = []
    section_path: list[str] = []
    lines: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match and len(match.group(1)) <= HEADING_LEVELS:
            level = len(match.group(1))
            body = [ln for ln in lines if ln.strip() and not _HEADING.match(ln)]
            if body:
                yield section_path, "\n".join(lines).strip()
                lines = []
            path = [*path[: level - 1], *[""] * max(0, level - 1 - len(path)), match.group(2)]
            section_path = [p for p in path if p]
        lines.append(line)
    if "\n".join(lines).strip():
        yield section_path, "\n".join(lines).strip()


def breadcrumb(title: str, headings: list[str]) -> str:
    """``Title > Heading > Subheading``; a heading equal to the part before it is dropped."""
    parts: list[str] = []
    for part in [title, *headings]:
        part = part.strip()
        if part and (not parts or part.lower() != parts[-1].lower()):
            parts.append(part)
    return " > ".join(parts)


def _with_context(crumb: str, text: str) -> str:
    # A first line that already names the whole context ("# Title" in Markdown) needs no prefix.
    first_line = text.lstrip().split("\n", 1)[0]
    if not crumb or crumb in first_line:
        return text
    return f"{crumb}\n\n{text}"


def chunk_documents(
    docs: Iterable[Document],
    *,
    chunk_tokens: int = 800,
    overlap_tokens: int = 80,
    token_count: TokenCounter | None = None,
) -> list[Document]:
    """Split ``docs`` into chunks of at most ``chunk_tokens`` tokens (context line included).

    Markdown documents (``source`` ending in .md/.markdown) are first cut into sections at
    their ``#``-``###`` headings (:func:`markdown_sections`). Each piece is split on
    paragraphs, then lines, sentences and words (``RecursiveCharacterTextSplitter``), with
    ``overlap_tokens`` of overlap. Each chunk copies its document's metadata and adds
    ``chunk_id = f"{source}#{i}"`` where ``i`` counts chunks within that source from 0 (ids are
    stable as long as the file's text is) and, inside a section, ``section`` (the heading
    path). The chunk text starts with the :func:`breadcrumb` line (title and headings) unless
    its first line already contains it; that line's tokens are reserved from the budget.
    """
    count = token_count or default_token_count()
    per_source: dict[str, int] = {}
    chunks: list[Document] = []
    splitters: dict[int, RecursiveCharacterTextSplitter] = {}
    for doc in docs:
        title = str(doc.metadata.get("title") or "").strip()
        source = str(doc.metadata.get("source", ""))
        if source.lower().endswith(MARKDOWN_SUFFIXES):
            sections = list(markdown_sections(doc.page_content))
        else:
            sections = [([], doc.page_content)]
        for headings, text in sections:
            crumb = breadcrumb(title, headings)
            # Reserve room for the "crumb\n\n" prefix so every chunk stays within budget.
            budget = max(16, chunk_tokens - (count(crumb + "\n\n") if crumb else 0))
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
            for piece in splitter.split_text(text):
                i = per_source.get(source, 0)
                per_source[source] = i + 1
                metadata = {**doc.metadata, "chunk_id": f"{source}#{i}"}
                if headings:
                    metadata["section"] = " > ".join(headings)
                chunks.append(
                    Document(page_content=_with_context(crumb, piece), metadata=metadata)
                )
    return chunks
