"""Property-based tests (hypothesis) for the chunker and the file loaders.

Chunker: never crashes, chunks cover the whole text in order, stay within the token budget
(breadcrumb included), and ids are ``source#0..n-1`` and identical on a second run. Loaders:
any bytes under any supported extension give a document or a ``LoaderError``, never another
exception. Case counts go to the fault ledger; ``ARAG_FUZZ_EXAMPLES`` sets the examples per
property (default 100; ``make reliability`` uses 1000).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document

from tests.unit.test_loaders import make_pdf
from tools.ingest.chunking import chunk_documents
from tools.ingest.loaders import LoaderError, load_file

pytestmark = pytest.mark.reliability

EXAMPLES = int(os.environ.get("ARAG_FUZZ_EXAMPLES", "100"))
CASES: Counter[str] = Counter()  # examples run per property, for the fault ledger
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def words(text: str) -> int:
    """A cheap, deterministic token counter: whitespace-separated words, long words split."""
    return sum(1 + len(w) // 8 for w in text.split())


# Words, punctuation, blank lines, Markdown headings, fences, and any unicode at all.
WORD = st.one_of(
    st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True),
    st.sampled_from([".", ",", "!", "?", ";", "\n", "\n\n", "# ", "## ", "```", "\t", "  "]),
    st.text(min_size=1, max_size=30),
)
TEXT = st.lists(WORD, max_size=400).map(" ".join)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@given(text=TEXT, budget=st.integers(16, 120), overlap=st.integers(0, 30))
@FUZZ
def check_plain_text_chunks(text, budget, overlap):
    CASES["plain"] += 1
    doc = Document(page_content=text, metadata={"source": "/d/notes.txt", "title": ""})
    chunks = chunk_documents([doc], chunk_tokens=budget, overlap_tokens=overlap, token_count=words)
    assert [c.metadata["chunk_id"] for c in chunks] == [
        f"/d/notes.txt#{i}" for i in range(len(chunks))
    ]
    again = chunk_documents([doc], chunk_tokens=budget, overlap_tokens=overlap, token_count=words)
    assert [(c.page_content, c.metadata) for c in again] == [
        (c.page_content, c.metadata) for c in chunks
    ]
    for chunk in chunks:
        assert words(chunk.page_content) <= budget
    # Coverage: each chunk (whitespace aside) is a piece of the text starting after the
    # previous chunk's start and no later than where the chunks so far reach, and the last
    # one reaches the end. (Taking the latest such occurrence gives the furthest reach.)
    whole = squash(text)
    reach, previous = 0, -1
    for chunk in chunks:
        body = squash(chunk.page_content)
        at = whole.rfind(body, previous + 1, reach + len(body))
        assert at >= 0, f"gap before {body!r} in {whole!r}"
        reach, previous = max(reach, at + len(body)), at
    assert reach == len(whole), f"text after {reach} not in any chunk: {whole[reach:]!r}"


@given(text=TEXT, title=st.text(max_size=40), budget=st.integers(24, 120))
@FUZZ
def check_markdown_chunks(text, title, budget):
    CASES["markdown"] += 1
    doc = Document(page_content=text, metadata={"source": "/d/guide.md", "title": title})
    chunks = chunk_documents([doc], chunk_tokens=budget, overlap_tokens=8, token_count=words)
    assert [c.metadata["chunk_id"] for c in chunks] == [
        f"/d/guide.md#{i}" for i in range(len(chunks))
    ]
    for chunk in chunks:
        assert chunk.page_content.strip()
        assert chunk.metadata["title"] == title
        # The breadcrumb is reserved from the budget; a crumb longer than the budget itself
        # is the only way over it (the body then gets the 16-token floor).
        crumb = chunk.page_content.split("\n\n", 1)[0] if "\n\n" in chunk.page_content else ""
        assert words(chunk.page_content) <= max(budget, words(crumb + "\n\n") + 16)
    assert squash(text) == "" or chunks


def test_chunker_properties(fault_ledger):
    with fault_ledger.fault("chunker", "hypothesis: plain text coverage, budget, stable ids") as f:
        f.observe_run("hypothesis property", check_plain_text_chunks)
        f.cases = CASES.pop("plain")
    with fault_ledger.fault("chunker", "hypothesis: Markdown sections and breadcrumbs") as f:
        f.observe_run("hypothesis property", check_markdown_chunks)
        f.cases = CASES.pop("markdown")


SUFFIXES = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf"]
VALID_PDF = make_pdf("Hypothesis was here", title="Fuzz")


@st.composite
def file_bytes(draw):
    """Random bytes, text in random encodings, or a valid PDF with random bytes changed."""
    kind = draw(st.sampled_from(["bytes", "text", "pdf"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2000))
    if kind == "text":
        encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-8-sig"]))
        return draw(st.text(max_size=500)).encode(encoding, "replace")
    data = bytearray(VALID_PDF)
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@given(data=file_bytes(), suffix=st.sampled_from(SUFFIXES))
@FUZZ
def check_loader(data, suffix, folder):
    CASES["loader"] += 1
    path = Path(tempfile.mkdtemp(dir=folder)) / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        docs = load_file(path)
    except LoaderError as exc:
        assert exc.reason and "\n" not in str(exc)
        return
    assert len(docs) == 1 and docs[0].page_content.strip()
    assert docs[0].metadata["source"] == str(path)


def test_loaders_never_raise_anything_but_loader_error(tmp_path, fault_ledger):
    with fault_ledger.fault("loaders", "hypothesis: random bytes, encodings, broken PDFs") as f:
        f.observe_run("hypothesis property", lambda: check_loader(folder=tmp_path))
        f.cases = CASES.pop("loader")
