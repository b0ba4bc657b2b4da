"""In-process BM25 for tables small enough to hold in memory (numpy postings, no I/O).

LanceDB's full-text search costs ~3.5 ms of CPU per query even on a 240-row table (query
planning, an async hop, reading the index): more than everything else in a small-corpus
search. A table held in memory (``lance.SMALL_TABLE_ROWS``) is scored here instead, in tens of
microseconds.

The tokenizer follows the LanceDB FTS configuration of ``tools.index.lance`` (lowercase words,
ASCII folding, the Snowball English stopwords, a Snowball stemmer for the stemmed languages;
character bigrams for languages written without spaces), so the scores rank close to LanceDB's
(same top hit for 97.5% of 200 Belebele-en questions): with the project's lighter
:func:`tools.index.scoring.stem` and stopwords, Belebele-en R@1 fell from 0.896 to 0.889, with
Lucene's short stopword list to 0.883.

Hand-rolled rather than taken from ``bm25s``: it is a page of numpy, builds from the texts
already in memory, and needs no scipy; the tokenizer, not the scoring, is what must match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

import numpy as np

from tools.index.scoring import SPACELESS_CHARS

K1 = 1.2  # Lucene / tantivy defaults
B = 0.75
MAX_TOKEN_CHARS = 40  # LanceDB's max_token_length: longer tokens are dropped

# The Snowball English stopword list, which LanceDB's FTS (tantivy's filter) removes for
# English (forms with an apostrophe are left out: the tokenizer splits them anyway).
ENGLISH_STOPWORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing would should could ought a an the and but if or because as until while of at by for
    with about against between into through during before after above below to from up down in
    out on off over under again further then once here there when where why how all any both
    each few more most other some such no nor not only own same so than too very cannot
    """.split()
)
# Words as tools.index.scoring splits them: a run of a spaceless script is its own word.
_WORD = re.compile(rf"[{SPACELESS_CHARS}]+|[^\W_{SPACELESS_CHARS}]+", re.UNICODE)


@lru_cache(maxsize=32)
def _stemmer(language: str):
    import snowballstemmer

    return snowballstemmer.stemmer(language.lower())


def tokenizer(language: str | None, stem_language: str | None) -> Callable[[str], list[str]]:
    """The BM25 tokenizer for a corpus: ``stem_language`` is the Snowball name or ``None``.

    ``language`` ``None`` means a language written without spaces: content terms with
    character bigrams (:func:`tools.index.scoring.tokenize`), as the index's n-gram FTS.
    ``"ko"`` is those bigrams plus each word's content morphemes
    (:func:`tools.index.morph.korean_tokenize`).
    """
    if language == "ko":
        from tools.index.morph import korean_tokenize

        return korean_tokenize
    if language is None:
        from tools.index.scoring import tokenize

        return tokenize
    stopwords = ENGLISH_STOPWORDS if language == "en" else frozenset()
    stem = _stemmer(stem_language).stemWord if stem_language else None

    @lru_cache(maxsize=200_000)
    def term(word: str) -> str:
        if not word.isascii():
            word = unicodedata.normalize("NFKD", word)
            word = "".join(ch for ch in word if not unicodedata.combining(ch))
        if word in stopwords or len(word) > MAX_TOKEN_CHARS:
            return ""
        return stem(word) if stem else word

    def tokenize(text: str) -> list[str]:
        return [t for w in _WORD.findall(text.lower()) if (t := term(w))]

    return tokenize


class TermBm25:
    """BM25 over documents given as collections of distinct terms (positions 0..n-1)."""

    def __init__(self, docs: Sequence[Iterable[str]]):
        postings: dict[str, list[int]] = {}
        freqs: dict[str, list[int]] = {}
        lengths = np.zeros(len(docs), dtype=np.float32)
        for pos, terms in enumerate(docs):
            counts: dict[str, int] = {}
            for term in terms:
                counts[term] = counts.get(term, 0) + 1
            for term, tf in counts.items():
                postings.setdefault(term, []).append(pos)
                freqs.setdefault(term, []).append(tf)
            lengths[pos] = sum(counts.values())
        n_docs = len(docs)
        avg = float(lengths.mean()) if n_docs and lengths.sum() > 0 else 1.0
        norm = K1 * (1.0 - B + B * lengths / avg)
        self._docs: dict[str, np.ndarray] = {}
        self._weights: dict[str, np.ndarray] = {}
        for term, positions in postings.items():
            ids = np.asarray(positions, dtype=np.int32)
            tf = np.asarray(freqs[term], dtype=np.float32)
            idf = np.log1p((n_docs - len(ids) + 0.5) / (len(ids) + 0.5))
            self._docs[term] = ids
            self._weights[term] = (idf * tf * (K1 + 1.0) / (tf + norm[ids])).astype(np.float32)
        self._n = n_docs

    def __len__(self) -> int:
        return self._n

    def search(self, query_terms: Iterable[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best ``(position, score)`` pairs with a score above 0, best first.

        Each distinct query term counts once; ties keep the lower position first.
        """
        terms = [t for t in dict.fromkeys(query_terms) if t in self._docs]
        if not terms or k <= 0:
            return []
        scores = np.zeros(self._n, dtype=np.float32)
        for term in terms:
            scores[self._docs[term]] += self._weights[term]
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        order = sorted(hits.tolist(), key=lambda i: (-scores[i], i))
        return [(i, float(scores[i])) for i in order]
