"""Summaries of whole documents: the offline extractive one, and how to split a long one.

:func:`extractive_summary` is what ``summarize_documents`` gives without a model: the most
representative sentences (closest to the centroid of all the sentences' embeddings), in
document order, each cited. :func:`pack` cuts numbered chunks into groups of bounded size for a
map-reduce summary with a bounded number of model calls.
"""

from __future__ import annotations

import numpy as np
from langchain_core.embeddings import Embeddings

from tools.index.search import Doc
from tools.text.extractive import (
    cite_sentence,
    is_heading,
    looks_like_instruction,
    split_sentences,
)

MIN_WORDS = 5
"""Shorter sentences (captions, list stubs) are not summary material."""


def extractive_summary(docs: list[Doc], embeddings: Embeddings | None, sentences: int = 5) -> str:
    """The most central sentences of each source in ``docs``, in document order, each cited.

    ``[n]`` is the chunk's 1-based position in ``docs``. ``sentences`` are shared out between
    the sources (at least two each), so a summary of several documents covers every one of
    them; within a source, a sentence's weight is its cosine to the centroid of the source's
    sentences. Without embeddings each source's first sentences are taken (a document's
    opening usually says what it is about).
    """
    by_source: dict[str, list[tuple[int, int, str]]] = {}
    for n, doc in enumerate(docs, 1):
        if looks_like_instruction(doc["content"]):
            continue
        for i, sentence in enumerate(split_sentences(doc["content"])):
            if len(sentence.split()) >= MIN_WORDS and not is_heading(sentence, doc["title"]):
                by_source.setdefault(doc["source"], []).append((n, i, sentence))
    if not by_source:
        return ""
    share = max(2, -(-sentences // len(by_source)))
    picked = [c for found in by_source.values() for c in _central(found, embeddings, share)]
    picked.sort(key=lambda c: (c[0], c[1]))
    return " ".join(cite_sentence(sentence, n) for n, _, sentence in picked)


def _central(
    candidates: list[tuple[int, int, str]], embeddings: Embeddings | None, count: int
) -> list[tuple[int, int, str]]:
    """The ``count`` candidates closest to their centroid (the first ones without embeddings)."""
    if embeddings is None or len(candidates) <= count:
        return sorted(candidates, key=lambda c: (c[0], c[1]))[:count]
    vectors = np.array(embeddings.embed_documents([c[2] for c in candidates]), dtype=float)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    order = np.argsort(-(unit @ unit.mean(axis=0)), kind="stable")
    return [candidates[i] for i in order[:count]]


def pack(sizes: list[int], budget: int, groups: int) -> list[list[int]]:
    """Indices of consecutive chunks in at most ``groups`` groups of about ``budget`` characters.

    Chunks are kept whole and in order. When the chunks do not fit ``groups`` groups of
    ``budget``, each group takes a fair share (the caller cuts long groups to ``budget``).
    """
    if not sizes or groups <= 0:
        return []
    target = max(budget, -(-sum(sizes) // groups))
    out: list[list[int]] = [[]]
    used = 0
    for i, size in enumerate(sizes):
        if out[-1] and used + size > target and len(out) < groups:
            out.append([])
            used = 0
        out[-1].append(i)
        used += size
    return out
