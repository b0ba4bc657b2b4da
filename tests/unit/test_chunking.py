"""Chunking: bounded chunks with stable ids, the title on every chunk, nothing lost."""

from __future__ import annotations

import re

import pytest
from langchain_core.documents import Document

from tools.ingest.chunking import chunk_documents


def word_count(text: str) -> int:
    """A deterministic stand-in token counter: one token per word or punctuation mark."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def make_doc(paragraphs: int = 30, source: str = "/docs/rivers.md") -> Document:
    body = "\n\n".join(
        f"Paragraph {i} describes river number {i} and its delta, tributaries and floods."
        for i in range(paragraphs)
    )
    return Document(page_content=body, metadata={"source": source, "title": "Rivers", "lang": "en"})


def chunk(docs, **kw):
    return chunk_documents(docs, chunk_tokens=60, overlap_tokens=10, token_count=word_count, **kw)


def test_chunk_ids_are_stable_across_runs():
    first = chunk([make_doc()])
    second = chunk([make_doc()])
    assert len(first) > 3
    assert [c.metadata["chunk_id"] for c in first] == [c.metadata["chunk_id"] for c in second]
    assert [c.page_content for c in first] == [c.page_content for c in second]
    assert [c.metadata["chunk_id"] for c in first] == [
        f"/docs/rivers.md#{i}" for i in range(len(first))
    ]


def test_ids_count_per_source():
    chunks = chunk([make_doc(source="/a.md"), make_doc(source="/b.md")])
    b_ids = [c.metadata["chunk_id"] for c in chunks if c.metadata["source"] == "/b.md"]
    assert b_ids[0] == "/b.md#0"


def test_chunks_cover_every_paragraph():
    chunks = chunk([make_doc()])
    joined = "\n".join(c.page_content for c in chunks)
    for i in range(30):
        assert f"Paragraph {i} describes river number {i}" in joined


def test_every_chunk_starts_with_the_title_and_keeps_metadata():
    for c in chunk([make_doc()]):
        assert c.page_content.startswith("Rivers\n\n")
        assert c.metadata["lang"] == "en" and c.metadata["title"] == "Rivers"


def test_title_not_repeated_when_chunk_already_starts_with_heading():
    doc = Document(
        page_content="# Rivers\n\nShort text about rivers.",
        metadata={"source": "/r.md", "title": "Rivers"},
    )
    [only] = chunk([doc])
    assert only.page_content == "# Rivers\n\nShort text about rivers."


def test_token_limit_is_respected_including_title():
    for c in chunk([make_doc(paragraphs=80)]):
        assert word_count(c.page_content) <= 60


@pytest.mark.parametrize("chunk_tokens", [64, 200])
def test_token_limit_with_wordllama_tokenizer(chunk_tokens, embeddings):
    long_text = " ".join(f"Sentence {i} about glaciers moving slowly downhill." for i in range(300))
    doc = Document(page_content=long_text, metadata={"source": "/g.txt", "title": "Glaciers"})
    chunks = chunk_documents(
        [doc], chunk_tokens=chunk_tokens, overlap_tokens=8, token_count=embeddings.token_count
    )
    assert len(chunks) > 1
    assert all(embeddings.token_count(c.page_content) <= chunk_tokens for c in chunks)


MANUAL = """# Pump manual

Read this first.

## Installation

### Wiring

Connect the red wire to terminal A.

## Maintenance

Replace the filter every six months.

```bash
# not a heading: a shell comment
make clean
```
"""


def test_markdown_chunks_carry_title_and_section_headings():
    doc = Document(page_content=MANUAL, metadata={"source": "/m/pump.md", "title": "Pump manual"})
    chunks = chunk([doc])
    by_text = {c.page_content.split("\n\n", 1)[0]: c for c in chunks}
    wiring = next(c for c in chunks if "red wire" in c.page_content)
    assert wiring.page_content.startswith("Pump manual > Installation > Wiring\n\n")
    assert wiring.metadata["section"] == "Pump manual > Installation > Wiring"
    filt = next(c for c in chunks if "filter" in c.page_content)
    assert filt.page_content.startswith("Pump manual > Maintenance\n\n")
    # The shell comment inside the code fence is not a section heading.
    assert "make clean" in filt.page_content
    assert not any("not a heading" in key for key in by_text)
    # No chunk is a bare heading, and ids still count per source from 0.
    assert all(len(c.page_content.split()) > 4 for c in chunks)
    assert [c.metadata["chunk_id"] for c in chunks] == [
        f"/m/pump.md#{i}" for i in range(len(chunks))
    ]


def test_plain_text_lines_with_hash_are_not_headings():
    doc = Document(
        page_content="# not a heading in a .txt file\n\nBody text about pumps.",
        metadata={"source": "/m/notes.txt", "title": "Notes"},
    )
    [only] = chunk([doc])
    assert only.page_content.startswith("Notes\n\n# not a heading")
    assert "section" not in only.metadata


def test_each_distinct_piece_is_counted_once():
    calls: list[str] = []

    def counting(text: str) -> int:
        calls.append(text)
        return word_count(text)

    chunks = chunk_documents([make_doc()], chunk_tokens=60, overlap_tokens=10, token_count=counting)
    assert len(chunks) > 3
    # The splitter asks about the same paragraph several times; the tokenizer sees it once.
    assert len(calls) == len(set(calls))
    assert chunks == chunk([make_doc()])


def test_batch_counter_counts_the_paragraphs_up_front_with_the_same_chunks():
    singles: list[str] = []
    batches: list[list[str]] = []

    def one(text: str) -> int:
        singles.append(text)
        return word_count(text)

    def many(texts: list[str]) -> list[int]:
        batches.append(texts)
        return [word_count(t) for t in texts]

    docs = [make_doc(source="/a.md"), make_doc(source="/b.md")]
    chunks = chunk_documents(
        docs, chunk_tokens=60, overlap_tokens=10, token_count=one, token_counts=many
    )
    assert len(batches) == 1  # one batch for both documents
    assert not [t for t in singles if "describes river" in t]  # no paragraph counted alone
    assert chunks == chunk(docs)


def test_title_line_added_when_the_first_sentence_only_mentions_the_title():
    doc = Document(
        page_content="Ed Wood is a 1994 film about Ed Wood.",
        metadata={"source": "/ed.txt", "title": "Ed Wood"},
    )
    [only] = chunk([doc])
    assert only.page_content == "Ed Wood\n\nEd Wood is a 1994 film about Ed Wood."
    plain_title = Document(page_content="Ed Wood\n\nA film.", metadata=doc.metadata)
    assert chunk([plain_title])[0].page_content == "Ed Wood\n\nA film."
