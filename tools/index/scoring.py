"""Calibrated hybrid scoring, independent of the index backend (pure functions, no I/O).

Backends retrieve candidates two ways (BM25 and vector search) and hand them to :func:`fuse`,
which orders them and gives each a calibrated ``score`` in [0, 1]. Raw BM25 scores are not
comparable across queries and raw cosines depend on the embedding model, so the calibrated score
is built from two bounded, query-independent parts instead:

* ``dense``: the cosine similarity, mapped to [0, 1] by a linear ramp measured for the
  embedding model (:mod:`tools.index.calibration`; WordLlama's is :data:`COS_LOW` /
  :data:`COS_HIGH`, the default here);
* ``lexical``: the weighted share of the query's content terms that the text contains.

Thresholds on the calibrated score therefore mean the same thing for every question.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from langchain_core.documents import Document

# Cosine ramp for WordLlama l2_supercat-256, measured on XQuAD-en (1,190 questions against the
# 240 "title + paragraph" texts): question-vs-unrelated-paragraph cosines have median 0.02 and
# 95th percentile 0.18; the best unrelated paragraph per question has median 0.38; the gold
# paragraph has 10th/50th/90th percentiles 0.30 / 0.51 / 0.70. So 0.15 and below reads as "no
# semantic relation" and 0.65 and above as "as related as a typical good answer".
COS_LOW = 0.15
COS_HIGH = 0.65

# Weight of the dense part in the calibrated score (the rest is lexical coverage).
DENSE_WEIGHT = 0.5

# Ordering bonus for BM25 strength relative to the query's best BM25 hit (see fuse()).
BM25_ORDER_WEIGHT = 1.5

# Small English stopword list: function words and question words, which say nothing about
# which passage answers a question. Deliberately short; content words must never be dropped.
STOPWORDS = frozenset(
    """
    a an the and or but nor not no of in on at to for from by with without about as into onto
    over under than then so such too very can could would should will shall may might must do
    does did done doing is are was were be been being am has have had having this that these
    those there here it its it's they them their theirs he him his she her hers we us our you
    your i me my mine what which who whom whose when where why how whether if also any all
    some each other more most many much one s t
    """.split()
)

# Scripts written without spaces between words (or with particles glued to words): their
# "words" from \w+ are whole phrases, so they are matched on character bigrams instead.
_BIGRAM_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI")

# The scripts above as character ranges (Hangul, CJK, kana, Thai): a word that mixes one of them
# with letters or digits is two words ("gzip은" is "gzip" and the particle "은", "API를" is
# "API" and "를"), so the Latin name still matches the English corpus.
SPACELESS_CHARS = (
    "\u0e00-\u0e7f\u1100-\u11ff\u2e80-\u2fdf\u3005\u3040-\u30ff\u3130-\u318f"
    "\u31c0-\u31ff\u3200-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)
_WORD = re.compile(rf"[{SPACELESS_CHARS}]+|[^\W{SPACELESS_CHARS}]+", re.UNICODE)
# ASCII \w is [A-Za-z0-9_]: every other byte becomes a space, and split() gives the same words
# as _WORD.findall, in order, at about a third of the cost (term_set runs on every ingested chunk).
_ASCII_NON_WORD = bytes(
    c if chr(c).isascii() and (chr(c).isalnum() or c == ord("_")) else 32 for c in range(256)
)


def _words(lowered: str) -> list[str]:
    """``_WORD.findall(lowered)``, faster for ASCII text."""
    if lowered.isascii():
        return lowered.encode("ascii").translate(_ASCII_NON_WORD).decode("ascii").split()
    return _WORD.findall(lowered)


@lru_cache(maxsize=4096)
def _needs_bigrams(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(_BIGRAM_SCRIPTS)


def stem(word: str) -> str:
    """Light English suffix stripping so that simple inflections match.

    For words of four letters or more: ``-ies`` becomes ``-y``; ``-es`` is dropped after
    s/x/z/ch/sh; otherwise a plural ``-s`` (not ``-ss``/``-us``/``-is``), ``-ing`` (words over
    five letters) or ``-ed`` (not ``-eed``) is dropped. Then a trailing ``e`` is dropped, so
    "base", "based" and "bases" all become "bas", and "die" and "died" both "di". Numbers and
    one- or two-letter words are never changed. Over-stemming ("shed" -> "sh") is accepted: both
    sides of a comparison are stemmed alike.
    """
    if word.isdigit() or len(word) <= 2:
        return word
    if len(word) >= 4:
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith(("sses", "xes", "zes", "ches", "shes")):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        elif word.endswith("ing") and len(word) > 5:
            word = word[:-3]
        elif word.endswith("ed") and not word.endswith("eed"):
            word = word[:-2]
    if word.endswith("e") and len(word) > 2:
        word = word[:-1]
    return word


@lru_cache(maxsize=200_000)
def _term(word: str) -> tuple[str, ...]:
    """Content terms of one lowercase word (cached: word frequencies are Zipfian)."""
    if not word.isascii() and (_needs_bigrams(word[0]) or _needs_bigrams(word[-1])):
        if len(word) == 1:
            return (word,)
        return tuple(word[i : i + 2] for i in range(len(word) - 1))
    if word in STOPWORDS or (len(word) == 1 and not word.isdigit()):
        return ()
    return (stem(word),)


_SCRIPT_EDGE = re.compile(
    rf"(?<=[{SPACELESS_CHARS}])(?=[^\W_{SPACELESS_CHARS}])"
    rf"|(?<=[^\W_{SPACELESS_CHARS}])(?=[{SPACELESS_CHARS}])"
)


def script_edges(text: str) -> list[int]:
    """Positions in ``text`` where a spaceless script meets letters or digits ("2019년": [4])."""
    return [m.start() for m in _SCRIPT_EDGE.finditer(text)]


def split_scripts(text: str) -> str:
    """``text`` with a space wherever a spaceless script meets letters or digits ("gzip 은").

    For full-text engines that split words on spaces and punctuation only (LanceDB's FTS):
    the query's "gzip은" then finds the corpus's "gzip", as :func:`tokenize` does.
    """
    return text if text.isascii() else _SCRIPT_EDGE.sub(" ", text)


def tokenize(text: str) -> list[str]:
    """Content terms of ``text`` for lexical matching.

    Lowercase, split on Unicode word characters, drop :data:`STOPWORDS` and one-letter words
    (digits are kept: numbers and years matter), stem with :func:`stem`. Runs of CJK, kana,
    Hangul or Thai characters become overlapping character bigrams.
    """
    return [term for word in _words(text.lower()) for term in _term(word)]


def term_set(text: str) -> set[str]:
    """The distinct content terms of ``text`` (as :func:`tokenize`, deduplicated words first)."""
    return {term for word in set(_words(text.lower())) for term in _term(word)}


def spaceless_share(text: str) -> float:
    """Share of ``text``'s letters written in a script without spaces (CJK, kana, Hangul, Thai)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if not ch.isascii() and _needs_bigrams(ch)) / len(letters)


def term_weight(term: str) -> float:
    """Weight of a query term: its length capped at 8 (longer terms are rarer, more telling).

    Numbers get at least 4, so a short year or count ("50", "1985") still counts.
    """
    weight = float(min(len(term), 8))
    return max(weight, 4.0) if term.isdigit() else weight


def lexical_coverage(
    query: str | Sequence[str],
    text: str | Iterable[str],
    weights: Mapping[str, float] | None = None,
) -> float:
    """Weighted share, in [0, 1], of the query's distinct content terms that occur in ``text``.

    ``query`` and ``text`` may be raw strings or already-tokenized terms. Each distinct query
    term weighs ``weights[term]`` when given, else :func:`term_weight`. A query with no content
    terms has coverage 0.
    """
    return QueryTerms(query, weights).coverage(text)


class QueryTerms:
    """A query's distinct content terms and their weights, for :func:`lexical_coverage`.

    Built once per query: fusion measures the coverage of 20-40 candidates, which would
    otherwise each weigh the same query terms again.
    """

    __slots__ = ("_total", "_weights")

    def __init__(
        self, query: str | Sequence[str], weights: Mapping[str, float] | None = None
    ) -> None:
        terms = set(tokenize(query) if isinstance(query, str) else query)
        weigh = (lambda t: weights.get(t, term_weight(t))) if weights else term_weight
        self._weights = [(t, weigh(t)) for t in terms]
        self._total = sum(w for _, w in self._weights)

    def coverage(self, text: str | Iterable[str]) -> float:
        """Weighted share of these terms in ``text`` (a raw string, or its terms)."""
        if not self._weights:
            return 0.0
        t_terms = term_set(text) if isinstance(text, str) else text
        if not isinstance(t_terms, (set, frozenset)):
            t_terms = set(t_terms)
        hit = sum(w for t, w in self._weights if t in t_terms)
        return hit / self._total if self._total > 0 else 0.0


Ramp = tuple[float, float]
"""``(cos_low, cos_high)``: the cosines mapped to 0 and to 1 (per embedding model)."""
WORDLLAMA_RAMP: Ramp = (COS_LOW, COS_HIGH)


def dense_to_unit(cosine: float, ramp: Ramp = WORDLLAMA_RAMP) -> float:
    """Map a cosine similarity to [0, 1] with the linear ramp ``low`` → 0, ``high`` → 1."""
    low, high = ramp
    return min(1.0, max(0.0, (cosine - low) / (high - low)))


def calibrated_score(
    dense_cos: float,
    coverage: float,
    dense_weight: float = DENSE_WEIGHT,
    ramp: Ramp = WORDLLAMA_RAMP,
) -> float:
    """Query-independent relevance in [0, 1], non-decreasing in both arguments.

    ``dense_weight * dense_to_unit(dense_cos, ramp) + (1 - dense_weight) * coverage``. A
    ``dense_weight`` of 0 (embeddings that do not handle the language) leaves lexical coverage.
    """
    coverage = min(1.0, max(0.0, coverage))
    return dense_weight * dense_to_unit(dense_cos, ramp) + (1.0 - dense_weight) * coverage


@dataclass(frozen=True)
class Candidate:
    """One retrieved chunk before fusion.

    ``dense`` is the cosine between query and chunk vectors (computed for BM25 hits too);
    ``bm25_score`` is the raw BM25 score (``None`` when BM25 did not return the chunk);
    ``bm25_rank`` / ``vector_rank`` are 0-based ranks in each result list, ``None`` when the
    chunk was not in that list (kept for diagnostics and alternative fusions); ``terms`` are the
    text's content terms when the index stored them (else fusion tokenizes the text).
    """

    doc: Document
    dense: float
    bm25_score: float | None = None
    bm25_rank: int | None = None
    vector_rank: int | None = None
    terms: frozenset[str] | None = None  # the text's term_set(), when stored at write time


class Scored(NamedTuple):
    """A fused result ``(doc, score, dense, lexical)``: calibrated score and its components."""

    doc: Document
    score: float
    dense: float
    lexical: float


def fuse(
    query: str,
    candidates: Iterable[Candidate],
    dense_weight: float = DENSE_WEIGHT,
    ramp: Ramp = WORDLLAMA_RAMP,
) -> list[Scored]:
    """Order the union of BM25 and vector candidates and give each a calibrated score.

    Duplicates (same chunk from both lists) should already be merged by the caller.

    The reported ``score`` is the calibrated score (comparable across queries), with the dense
    part weighted ``dense_weight`` (0 when the embeddings do not handle the query or corpus
    language: their cosines are then noise, e.g. WordLlama gives unrelated Korean texts cosines
    of 0.65 and more), and cosines mapped by the embedding model's ``ramp``.

    The order is by ``dense_weight * dense + (1 - DENSE_WEIGHT) * coverage + BM25_ORDER_WEIGHT
    * bm25 / best_bm25``, where ``best_bm25`` is the highest BM25 score among the candidates:
    raw BM25 is not comparable across queries, but *within* one query it ranks exact-term
    evidence (term frequency, rarity in the corpus) better than our coverage share does, and it
    is the strongest single signal on every set we measured. R@1 (HotpotQA: all gold in top 5)
    with benchmarks/quick_retrieval.py, for BM25 alone / dense alone / this order:
    XQuAD-en 0.945 / 0.819 / 0.949; Belebele-en 0.879 / 0.782 / 0.896; Belebele-ko (dense
    weight 0) 0.799 / 0.159 / 0.802; HotpotQA 0.907 / 0.715 / 0.914. A BM25 weight of 0.5 gave
    Belebele-en 0.904 but HotpotQA 0.874, below BM25 alone.
    """
    q_terms = QueryTerms(query)
    cands = list(candidates)
    best_bm25 = max((c.bm25_score or 0.0 for c in cands), default=0.0)
    items = []
    for cand in cands:
        text = cand.terms if cand.terms is not None else cand.doc.page_content
        lexical = q_terms.coverage(text)
        score = calibrated_score(cand.dense, lexical, dense_weight, ramp)
        bm25_rel = (cand.bm25_score or 0.0) / best_bm25 if best_bm25 > 0 else 0.0
        key = (
            dense_weight * dense_to_unit(cand.dense, ramp)
            + (1.0 - DENSE_WEIGHT) * min(1.0, lexical)
            + BM25_ORDER_WEIGHT * bm25_rel
        )
        items.append((key, Scored(cand.doc, score, cand.dense, lexical)))
    # Stable sort: on equal keys the candidates keep the caller's order (vector hits first).
    items.sort(key=lambda item: -item[0])
    return [scored for _, scored in items]
