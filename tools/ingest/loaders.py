"""Turn files on disk into LangChain ``Document`` objects for ingestion.

Supported: PDF (pypdf), Markdown, reStructuredText, plain text (files without an extension too,
when they hold text: README, NEWS, copyright), HTML (BeautifulSoup) and Word ``.docx``
(python-docx; headings, lists and tables kept, as Markdown). Hard-wrapped lines are
joined back into paragraphs (:mod:`tools.text.reflow`). Every document carries
``source`` (the absolute path) and ``title`` metadata. A file that cannot be used raises
:class:`LoaderError` with a one-line reason a user can act on; ingestion records it and goes on.

Files larger than ``ARAG_MAX_FILE_MB`` (default 32 MB) are refused before they are read: a
file is loaded, chunked and embedded whole, so its size bounds the memory an ingest needs.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from langchain_core.documents import Document

from tools.text.reflow import reflow

PDF_EXTS = frozenset({".pdf"})
MARKDOWN_EXTS = frozenset({".md", ".markdown"})
TEXT_EXTS = frozenset({".txt", ".text"})
RST_EXTS = frozenset({".rst", ".rest"})
HTML_EXTS = frozenset({".html", ".htm"})
DOCX_EXTS = frozenset({".docx"})
SUPPORTED_EXTS = PDF_EXTS | MARKDOWN_EXTS | TEXT_EXTS | RST_EXTS | HTML_EXTS | DOCX_EXTS
# Files without an extension are read when they hold text (README, NEWS, copyright, ...).
SNIFF_BYTES = 8192

DEFAULT_MAX_FILE_MB = 32
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


class LoaderError(Exception):
    """A file could not be loaded; ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def max_file_bytes() -> int:
    """The largest file ingestion accepts, from ``ARAG_MAX_FILE_MB`` (default 32 MB)."""
    raw = os.environ.get("ARAG_MAX_FILE_MB", "").strip()
    try:
        megabytes = float(raw) if raw else DEFAULT_MAX_FILE_MB
    except ValueError:
        megabytes = DEFAULT_MAX_FILE_MB
    return int(megabytes * 1024 * 1024)


def _check_file(path: Path) -> None:
    """Refuse missing files, symlink loops, broken symlinks and files over the size limit."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LoaderError(path, "symbolic link loop (too many levels of links)") from exc
        if path.is_symlink():
            raise LoaderError(path, f"broken symbolic link to {os.readlink(path)}") from exc
        if exc.errno == errno.ENOENT:
            raise LoaderError(path, "no such file") from exc
        raise LoaderError(path, f"unreadable: {exc.strerror or exc}") from exc
    limit = max_file_bytes()
    if size > limit:
        raise LoaderError(
            path,
            f"too large to ingest ({size / 2**20:.0f} MB; the limit is {limit / 2**20:.0f} MB): "
            "split it, or raise ARAG_MAX_FILE_MB",
        )


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except PermissionError as exc:
        raise LoaderError(path, "unreadable: permission denied") from exc
    except IsADirectoryError as exc:
        raise LoaderError(path, "is a directory, not a file") from exc
    except OSError as exc:
        raise LoaderError(path, f"unreadable: {exc.strerror or exc}") from exc
    if not data:
        raise LoaderError(path, "empty file (0 bytes)")
    return data


def _decode_text(path: Path, data: bytes) -> str:
    # NUL bytes never occur in real text files but are common in binaries.
    if b"\x00" in data:
        raise LoaderError(path, "looks like a binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoaderError(
            path, f"not valid UTF-8 text (undecodable byte at offset {exc.start})"
        ) from exc


def _require_text(path: Path, text: str) -> str:
    if not text.strip():
        raise LoaderError(path, "contains no text")
    return text


# Each loader returns (text, title or None, extra metadata).
Loaded = tuple[str, str | None, dict]


def _load_text(path: Path) -> Loaded:
    return reflow(_require_text(path, _decode_text(path, _read_bytes(path)))), None, {}


def _load_markdown(path: Path) -> Loaded:
    text = reflow(_require_text(path, _decode_text(path, _read_bytes(path))))
    match = _MD_HEADING.search(text)
    return text, (match.group(1).strip() if match else None), {}


_RST_TITLE = re.compile(r"^\s*([^\n]+?)\s*\n\s*([=\-~^*+#])\2{2,}\s*$", re.MULTILINE)


def _load_rst(path: Path) -> Loaded:
    text = reflow(_require_text(path, _decode_text(path, _read_bytes(path))))
    match = _RST_TITLE.search(text)
    return text, (match.group(1).strip() if match else None), {}


def looks_like_text(path: Path) -> bool:
    """Whether a file without a known extension holds text: no NUL byte, and it decodes."""
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return False
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sniff boundary
            return False
    return True


def _load_html(path: Path) -> Loaded:
    from bs4 import BeautifulSoup

    markup = _decode_text(path, _read_bytes(path))
    soup = BeautifulSoup(markup, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(["script", "style", "noscript", "template", "title"]):
        tag.decompose()
    # Block elements become paragraphs and headings Markdown headings; inline elements stay in
    # their sentence (get_text("\n") would put every <b> or <a> on a line of its own).
    for tag in soup.find_all(["br"]):
        tag.replace_with("\n")
    for tag in soup.find_all(_HTML_HEADINGS):
        tag.insert_before(f"\n\n{'#' * int(tag.name[1])} ")
        tag.insert_after("\n\n")
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    lines = (" ".join(line.split()) for line in soup.get_text("").splitlines())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return _require_text(path, text), title or None, {}


_HTML_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
_HTML_BLOCKS = [
    "p", "div", "li", "tr", "pre", "section", "article", "blockquote", "dt", "dd", "table",
    "ul", "ol", "header", "footer", "nav", "aside", "main", "figure", "figcaption", "hr",
]  # fmt: skip


def _load_pdf(path: Path) -> Loaded:
    import io

    from pypdf import PdfReader

    data = _read_bytes(path)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password (copy protection only).
            try:
                opened = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types for unsupported crypto
                raise LoaderError(path, f"encrypted PDF that cannot be opened ({exc})") from exc
            if not opened:
                raise LoaderError(path, "encrypted PDF (password required)")
        pages = [reflow((page.extract_text() or "").strip()) for page in reader.pages]
        info_title = (reader.metadata.title if reader.metadata else None) or None
    except LoaderError:
        raise
    except Exception as exc:
        # pypdf parses untrusted bytes and fails in many ways besides PdfReadError (fuzzing
        # found LimitReachedError, IndexError, ...): each is this one file's problem.
        raise LoaderError(
            path, f"corrupt or unreadable PDF ({exc.__class__.__name__}: {exc})"
        ) from exc
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise LoaderError(path, "PDF has no extractable text (scanned images need OCR)")
    title = str(info_title).strip() if info_title else ""
    numbered = [(n, page) for n, page in enumerate(pages, 1) if page]
    return text, title or None, {"pages": len(pages), "page_texts": numbered}


def _docx_blocks(document) -> Iterator[str]:
    """The body's paragraphs and tables in order, as Markdown: headings, list items, rows."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [" ".join(c.text.split()) for c in row.cells]
                if any(cells):
                    yield "| " + " | ".join(cells) + " |"
            continue
        if not isinstance(block, Paragraph):
            continue
        text = " ".join(block.text.split())
        style = (block.style.name if block.style is not None else "") or ""
        if not text:
            continue
        if style == "Title":
            yield f"# {text}"
        elif style.startswith("Heading") and style[7:].strip().isdigit():
            yield f"{'#' * min(6, int(style[7:]) + 1)} {text}"  # Title is the one "#"
        elif style.startswith("List"):
            yield f"- {text}"
        else:
            yield text


def _load_docx(path: Path) -> Loaded:
    import io

    import docx

    try:
        document = docx.Document(io.BytesIO(_read_bytes(path)))
        blocks = list(_docx_blocks(document))
        core_title = (document.core_properties.title or "").strip()
    except LoaderError:
        raise
    except Exception as exc:  # a zip that is not a Word file, broken XML, ...
        raise LoaderError(
            path, f"corrupt or unreadable Word file ({exc.__class__.__name__}: {exc})"
        ) from exc
    text = _require_text(path, "\n\n".join(blocks))
    heading = next((b.lstrip("# ") for b in blocks if b.startswith("#")), "")
    return text, core_title or heading or None, {}


_LOADERS = {
    **dict.fromkeys(PDF_EXTS, _load_pdf),
    **dict.fromkeys(MARKDOWN_EXTS, _load_markdown),
    **dict.fromkeys(TEXT_EXTS, _load_text),
    **dict.fromkeys(RST_EXTS, _load_rst),
    **dict.fromkeys(HTML_EXTS, _load_html),
    **dict.fromkeys(DOCX_EXTS, _load_docx),
}


def load_file(path: str | os.PathLike) -> list[Document]:
    """Load one file as one ``Document``, or a PDF as one per page that has text.

    Metadata: ``source`` (absolute path), ``title`` (first Markdown heading, HTML ``<title>``,
    PDF metadata title, else the file stem) and, for PDFs, ``pages`` (the count) and ``page``
    (1-based). Raises
    :class:`LoaderError` for unknown extensions, missing files, symlink loops and broken links,
    files over :func:`max_file_bytes`, empty or text-less files, binary content in a text file,
    encrypted or corrupt PDFs and unreadable files.
    """
    path = Path(path).expanduser().absolute()
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None and not path.suffix and looks_like_text(path):
        loader = _load_text
    if loader is None:
        supported = ", ".join(sorted(SUPPORTED_EXTS))
        kind = path.suffix or "(none)"
        raise LoaderError(path, f"unsupported file type {kind!r}; supported: {supported}")
    _check_file(path)
    text, title, extra = loader(path)
    metadata = {"source": str(path), "title": title or path.stem, **extra}
    pages = metadata.pop("page_texts", None)
    if pages:  # a PDF: one document per page, so every chunk knows its page for citations
        return [Document(page_content=t, metadata={**metadata, "page": n}) for n, t in pages]
    return [Document(page_content=text, metadata=metadata)]


def is_url(item: str | os.PathLike) -> bool:
    """Whether ``item`` names a URL (``scheme://...``) rather than a path."""
    return "://" in str(item)


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def iter_files(
    paths: Iterable[str | os.PathLike], ignored: list[Path] | None = None
) -> Iterator[Path | str]:
    """Yield the files named by ``paths``, expanding directories recursively.

    Directory contents come in sorted order; inside a directory only supported file types are
    yielded (the others are appended to ``ignored`` when given), hidden files and directories
    (dot-names) are skipped, and symlinked directories are not followed (no loops). Files given
    explicitly are yielded as-is (even if hidden or of an unsupported type, so the caller can
    report them). URLs (:func:`is_url`) are yielded unchanged, as strings. Each file is
    yielded once.
    """
    seen: set[Path | str] = set()
    for raw in paths:
        if is_url(raw):
            if raw not in seen:
                seen.add(str(raw))
                yield str(raw)
            continue
        path = Path(raw).expanduser().absolute()
        if path.is_dir():
            candidates: Iterable[Path] = _walk(path, ignored)
        else:
            candidates = [path]
        for file in candidates:
            if file not in seen:
                seen.add(file)
                yield file


def _walk(root: Path, ignored: list[Path] | None) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        # Prune in place: os.walk then skips hidden directories entirely.
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
        for name in sorted(filenames):
            if _is_hidden(name):
                continue
            file = Path(dirpath) / name
            if file.suffix.lower() in SUPPORTED_EXTS or (not file.suffix and looks_like_text(file)):
                yield file
            elif ignored is not None:
                ignored.append(file)
