"""In-process BM25 for tables small enough to hold in memory (numpy postings, no I/O).

LanceDB's full-text search costs ~3.5 ms of CPU per query even on a 240-row table (query
planning, an async hop, reading the index): more than everything else in a small-corpus
search. A table held in memory (:mod:`tools.index.memory_copy`) is scored here instead, in tens
of microseconds (0.4 ms at 100k paragraphs).

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
from array import array
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np

from tools.index.scoring import SPACELESS_CHARS
from tools.index.topk import largest

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
    """BM25 over documents given as sequences of terms (positions 0..n-1).

    Postings are one CSR layout (per term: document positions and their precomputed weights),
    built with numpy: 5.8M tokens of 100k paragraphs in ~0.8 s, where a dict of lists per term
    took 2 s and more memory.
    """

    def __init__(self, docs: Iterable[Iterable[str]]):
        vocab: dict[str, int] = {}
        term_ids = array("q")  # 8 bytes a token, where a list of ints costs ~36
        lengths_list: list[int] = []
        for terms in docs:  # one document at a time: a generator of token lists is enough
            before = len(term_ids)
            term_ids.extend([vocab.setdefault(t, len(vocab)) for t in terms])
            lengths_list.append(len(term_ids) - before)
        lengths = np.asarray(lengths_list, dtype=np.int64)
        n_docs, n_terms = len(lengths), len(vocab)
        doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        # One key per (term, document): sorted by term, then document; counts are the tfs.
        base = max(n_docs, 1)
        keys, counts = np.unique(
            np.frombuffer(term_ids, dtype=np.int64) * base + doc_of, return_counts=True
        )
        term, doc = keys // base, (keys % base).astype(np.int32)
        df = np.bincount(term, minlength=n_terms)
        self._offsets = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df, out=self._offsets[1:])
        lengths32 = lengths.astype(np.float32)
        avg = float(lengths32.mean()) if n_docs and lengths.sum() > 0 else 1.0
        norm = K1 * (1.0 - B + B * lengths32 / avg)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        tf = counts.astype(np.float32)
        self._docs = doc
        self._weights = (idf[term] * tf * (K1 + 1.0) / (tf + norm[doc])).astype(np.float32)
        self._vocab = vocab
        self._n = n_docs

    def __len__(self) -> int:
        return self._n

    def search(self, query_terms: Iterable[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best ``(position, score)`` pairs with a score above 0, best first.

        Each distinct query term counts once; ties keep the lower position first.
        """
        terms = [self._vocab[t] for t in dict.fromkeys(query_terms) if t in self._vocab]
        if not terms or k <= 0:
            return []
        scores = np.zeros(self._n, dtype=np.float32)
        for term in terms:
            start, end = self._offsets[term], self._offsets[term + 1]
            scores[self._docs[start:end]] += self._weights[start:end]
        top = largest(scores, k)  # every positive score is among them if fewer than k are
        hits = top[scores[top] > 0]
        order = sorted(hits.tolist(), key=lambda i: (-scores[i], i))
        return [(i, float(scores[i])) for i in order]
