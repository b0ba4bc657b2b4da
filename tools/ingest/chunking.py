"""Split loaded documents into token-bounded chunks with stable ids and their context attached.

Lengths are counted in WordLlama tokenizer tokens (tiktoken would need to download its encoding,
which the offline mode cannot do). Each chunk starts with a breadcrumb line, the document title
and the Markdown section headings above the chunk (``Title > Section > Subsection``), so that a
query naming the document's subject or section finds every chunk of it, not just the first.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterable, Iterator

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

TokenCounter = Callable[[str], int]
BatchTokenCounter = Callable[[list[str]], list[int]]

MARKDOWN_SUFFIXES = (".md", ".markdown", ".docx")  # .docx: loaded as Markdown (headings)
HEADING_LEVELS = 3  # "#" to "###" start sections; deeper headings stay inside the text
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def default_token_count() -> TokenCounter:
    """Return the offline WordLlama token counter (the model loads on its first call)."""
    from tools.embeddings import load_embeddings

    return load_embeddings("wordllama").token_count


def default_token_counts() -> BatchTokenCounter:
    """Return the offline WordLlama batch token counter (one batch call per list of texts)."""
    from tools.embeddings import load_embeddings

    return load_embeddings("wordllama").token_counts


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
    # A heading or title line that already names the whole context ("# Title" in Markdown)
    # needs no prefix. A sentence that merely mentions the title still gets it: the title
    # line is what lets a query naming the subject find every chunk (HotpotQA, whose
    # paragraphs mostly open with their title: all-gold@5 0.848 without it, 0.914 with it).
    first_line = text.lstrip().split("\n", 1)[0].strip()
    if not crumb:
        return text
    if first_line.lower() == crumb.lower() or (_HEADING.match(first_line) and crumb in first_line):
        return text
    return f"{crumb}\n\n{text}"


class _CachedCount:
    """A token counter with a per-call cache that can be filled in one batch.

    The splitter measures every split at least twice (to find oversized ones, then to merge
    them) and again as the overlap window slides: one ingest asked the tokenizer about the
    same paragraph ~3 times (36,830 calls for 600 files of 20 paragraphs). Cached, each
    distinct text is counted once; :meth:`prime` counts the likely splits (the paragraphs)
    of all documents in one parallel batch beforehand.

    With ``after_newline`` (the WordLlama tokenizer's
    :meth:`~tools.embeddings.WordLlamaEmbeddings.token_ids_after_newline`), the paragraphs
    are measured as they stand inside a chunk, after a newline, and their ids kept, so that
    :func:`chunk_token_ids` can join them into each chunk's ids for the embedding.
    """

    def __init__(
        self,
        count: TokenCounter,
        batch: BatchTokenCounter | None,
        after_newline: Callable[[list[str]], list[list[int] | None]] | None = None,
    ):
        self._count = count
        self._batch = batch
        self._after_newline = after_newline
        self._seen: dict[str, int] = {}
        self.ids: dict[str, list[int]] = {}  # in-context ids of the primed splits

    def prime(self, texts: list[str], splits: list[str] = ()) -> None:
        """Count ``texts`` (on their own) and ``splits`` (after a newline) in batches."""
        if self._after_newline is not None:
            todo = list(dict.fromkeys(t for t in splits if t not in self._seen))
            for text, ids in zip(todo, self._after_newline(todo), strict=True):
                if ids is not None:
                    self.ids[text] = ids
                    self._seen[text] = len(ids)
        todo = list(dict.fromkeys(t for t in [*texts, *splits] if t not in self._seen))
        if self._batch is not None and todo:
            self._seen.update(zip(todo, self._batch(todo), strict=True))

    def __call__(self, text: str) -> int:
        n = self._seen.get(text)
        if n is None:
            n = self._seen[text] = self._count(text)
        return n


def _first_splits(text: str) -> list[str]:
    """The paragraphs (else lines) the splitter will measure first, separators kept at the end."""
    sep = "\n\n" if "\n\n" in text else "\n"
    parts = text.split(sep)
    return [p + sep for p in parts[:-1]] + [parts[-1]]


def _piece_ids(
    text: str,
    splits: list[str],
    starts: list[int],
    piece: str,
    start: int,
    ids: dict,
    standalone: Callable[[str], list[int]] | None,
) -> list[int] | None:
    """Ids of ``piece`` (found at ``start`` in ``text``) from its splits' in-context ids.

    ``standalone`` tokenizes the first split on its own (the piece opens the chunk); without
    it the piece follows a newline. ``None`` unless the piece is a run of whole splits, less
    trailing newlines (a paragraph cut into sentences, for one, is not).
    """
    i = bisect.bisect_left(starts, start)
    if i == len(starts) or starts[i] != start:
        return None
    end, pos, out = start + len(piece), start, []
    while pos < end and i < len(splits):
        part = ids.get(splits[i])
        if part is None:
            return None
        out += standalone(splits[i]) if standalone and pos == start else part
        pos += len(splits[i])
        i += 1
    tail = text[end:pos]
    if pos < end or tail.strip("\n") or not text.startswith(piece, start):
        return None
    return out[: len(out) - len(tail)] if tail else out


def chunk_documents(
    docs: Iterable[Document],
    *,
    chunk_tokens: int = 800,
    overlap_tokens: int = 80,
    token_count: TokenCounter | None = None,
    token_counts: BatchTokenCounter | None = None,
    token_ids: dict[str, list[int]] | None = None,
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

    Lengths come from ``token_count`` (default: WordLlama's tokenizer), each distinct text
    counted once; ``token_counts``, a batch version of it, counts the paragraphs of all
    ``docs`` up front (the WordLlama default does when ``token_count`` is not given).

    ``token_ids`` (a dict, with the WordLlama default) is filled with ``{chunk text: token
    ids}`` for the chunks that are runs of whole paragraphs: their ids come from the
    paragraphs' measuring, so embedding them (``WordLlamaEmbeddings.known_token_ids``) needs
    no second tokenizing. Ingestion at 800-token chunks spent about as long tokenizing for
    lengths as for vectors.
    """
    after_newline = None
    if token_count is None:
        from tools.embeddings import load_embeddings

        token_count, token_counts = default_token_count(), token_counts or default_token_counts()
        if token_ids is not None:
            after_newline = load_embeddings("wordllama").token_ids_after_newline
    count = _CachedCount(token_count, token_counts, after_newline)
    parts: list[tuple[Document, str, list[str], str, str]] = []
    for doc in docs:
        title = str(doc.metadata.get("title") or "").strip()
        source = str(doc.metadata.get("source", ""))
        if source.lower().endswith(MARKDOWN_SUFFIXES):
            sections = list(markdown_sections(doc.page_content))
        else:
            sections = [([], doc.page_content)]
        parts += [(doc, source, h, text, breadcrumb(title, h)) for h, text in sections]
    count.prime(
        [f"{crumb}\n\n" for *_, crumb in parts if crumb],
        [split for _, _, _, text, _ in parts for split in _first_splits(text)],
    )
    standalone: Callable[[str], list[int] | None] = (
        (lambda t: load_embeddings("wordllama").token_ids([t])[0]) if after_newline else None
    )
    per_source: dict[str, int] = {}
    chunks: list[Document] = []
    splitters: dict[int, RecursiveCharacterTextSplitter] = {}
    for doc, source, headings, text, crumb in parts:
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
        if after_newline is not None:
            splits = _first_splits(text)
            starts = list(itertools.accumulate((len(p) for p in splits[:-1]), initial=0))
        cursor = 0
        for piece in splitter.split_text(text):
            i = per_source.get(source, 0)
            per_source[source] = i + 1
            metadata = {**doc.metadata, "chunk_id": f"{source}#{i}"}
            if headings:
                metadata["section"] = " > ".join(headings)
            chunk = _with_context(crumb, piece)
            chunks.append(Document(page_content=chunk, metadata=metadata))
            if after_newline is None:
                continue
            start = text.find(piece, cursor)
            if start < 0:
                continue
            cursor = start + 1  # pieces overlap, but each starts after the previous one
            # "crumb\n\n" + piece: the crumb on its own, then the piece after a newline;
            # else the piece opens the chunk, its first paragraph on its own.
            opens = chunk == piece
            ids = _piece_ids(
                text, splits, starts, piece, start, count.ids, standalone if opens else None
            )
            if ids is not None:
                token_ids[chunk] = ids if opens else standalone(f"{crumb}\n\n") + ids
    return chunks
