"""Query-focused excerpts: what the grader, the writer and the checker read of each document.

Document text dominates the prompt of every LLM step, and most of a retrieved chunk is about
something else than the question. So each step reads only the sentences that matter to it, in
document order, within a character budget: the grader and the writer read the sentences that
match the question, the checker reads the sentences of each cited document that match the claims
citing it. A budget of 0 means the whole document. Citations always point at the whole document.

Selection is lexical (the same weighted content terms as the index's coverage score, see
``tools.index.scoring``), which costs well under a millisecond per document and needs no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from tools.index.scoring import term_weight, tokenize
from tools.index.search import Doc
from tools.text.extractive import answer_sentences, cited_numbers, strip_citations
from tools.text.sentences import split_sentences

GAP = " … "
"""Marks sentences left out between two kept ones."""

# A first line this short is the chunk's "Title > Section" breadcrumb: always kept, for context.
_HEADING_CHARS = 120
# Documents analysed once per process: one request cuts each document for the grader, the
# writer and the checker, and splitting and tokenizing it was most of an excerpt's cost.
_ANALYSED_DOCS = 256


@lru_cache(maxsize=_ANALYSED_DOCS)
def _analysed(text: str) -> tuple[tuple[str, ...], tuple[frozenset[str], ...]]:
    """The sentences of ``text`` and each one's content terms (immutable: the cache shares them)."""
    sentences = tuple(split_sentences(text))
    return sentences, tuple(frozenset(tokenize(s)) for s in sentences)


def excerpt(text: str, query: str, max_chars: int, *, fill: bool = True) -> str:
    """The sentences of ``text`` that best match ``query``, at most ``max_chars`` long.

    Sentences are ranked by the summed weight of the query terms they contain; on a tie, the one
    next to an already kept sentence wins, then the earlier one. With ``fill``, sentences that
    match nothing fill the rest of the budget (neighbours first: "He died in ..." often follows
    the sentence that names him); without it they are left out, unless nothing matches at all.
    Kept sentences come back in document order, with :data:`GAP` where text was left out.
    ``text`` is returned unchanged when it fits or ``max_chars`` is 0 or less.
    """
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    sentences, terms = _analysed(text)
    if not sentences:
        return text[:max_chars]
    q_terms = set(tokenize(query))
    weights = [sum(term_weight(t) for t in q_terms.intersection(ts)) for ts in terms]
    kept: set[int] = set()
    used = 0
    if len(sentences[0]) <= _HEADING_CHARS and len(sentences) > 1:
        kept.add(0)
        used = len(sentences[0])
    while True:
        best = None
        skip_unmatched = not fill and any(weights[j] for j in kept)
        for i, sentence in enumerate(sentences):
            if i in kept or used + len(sentence) + len(GAP) > max_chars:
                continue
            if skip_unmatched and weights[i] == 0:
                continue
            adjacent = (i - 1 in kept) or (i + 1 in kept)
            key = (weights[i], adjacent, -i)
            if best is None or key > best[0]:
                best = (key, i)
        if best is None:
            break
        kept.add(best[1])
        used += len(sentences[best[1]]) + len(GAP)
    if len(kept) <= (1 if 0 in kept else 0):
        # Not even one body sentence fits: cut the best one at a word boundary.
        i = max(range(len(sentences)), key=lambda j: (weights[j], -j))
        return sentences[i][:max_chars].rsplit(" ", 1)[0]
    return _join(sentences, sorted(kept))


def _join(sentences: Sequence[str], indexes: Sequence[int]) -> str:
    parts: list[str] = []
    for pos, i in enumerate(indexes):
        if pos and i != indexes[pos - 1] + 1:
            parts.append(GAP.strip())
        parts.append(sentences[i])
    return " ".join(parts)


def question_excerpts(
    docs: list[Doc], query: str, max_chars: int, *, fill: bool = True
) -> list[Doc]:
    """``docs`` with each ``content`` cut to its excerpt for ``query`` (see :func:`excerpt`)."""
    return [{**d, "content": excerpt(d["content"], query, max_chars, fill=fill)} for d in docs]


def cited_excerpts(
    docs: list[Doc], question: str, answer: str, max_chars: int
) -> list[tuple[int, Doc]]:
    """The documents an answer cites, as ``(number, doc)``, each cut to what its claims need.

    A document's excerpt is selected by the question plus the answer sentences that cite it, so
    the checker sees the evidence for each claim. Numbers keep their position in ``docs``. An
    answer that cites nothing gets every document (cut by the whole answer), so an uncited claim
    is still judged against everything the writer saw.
    """
    claims: dict[int, list[str]] = {}
    for sentence in answer_sentences(answer):
        for n in cited_numbers(sentence):
            if 1 <= n <= len(docs):
                claims.setdefault(n, []).append(strip_citations(sentence))
    if not claims:
        claims = {n: [strip_citations(answer)] for n in range(1, len(docs) + 1)}
    shown = []
    for n, texts in sorted(claims.items()):
        doc = docs[n - 1]
        query = " ".join([question, *texts])
        shown.append((n, {**doc, "content": excerpt(doc["content"], query, max_chars)}))
    return shown
