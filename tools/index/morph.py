"""Korean morphemes for BM25: kiwipiepy's analyzer (its model ships in ``kiwipiepy-model``).

Korean glues particles and endings to words ("수도는", "수도이며", "수도를"), so a word
tokenizer indexes whole inflected forms. Character bigrams (:func:`tools.index.scoring.tokenize`)
match across inflections but also across unrelated words that share two syllables. The BM25
tokenizer of a Korean corpus (:func:`korean_tokenize`) keeps the bigrams and adds each word's
content morphemes (nouns, verb and adjective stems, roots, adverbs), in their own namespace
(:data:`MORPH_PREFIX`), so a morpheme and a bigram spelled alike stay separate terms. Measured
against bigrams alone, morphemes alone and other mixes in ``benchmarks/korean_tokenizer.py``
(figures in ``benchmarks/results/korean.md``).

Words are analyzed one at a time and cached (word frequencies are Zipfian; the same word is
always split the same way, in a query as in a passage). The analyzer costs about 0.5 s and
230 MB to load, so it is loaded on the first Korean text only, once, under a lock.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from tools.index.scoring import script_edges, tokenize

MORPH_PREFIX = "~"
"""Marks a morpheme term (``~수도``), apart from the character bigram ``수도``."""

# Sejong tags kept: common/proper/bound nouns, numerals, pronouns, verb and adjective stems,
# roots, general adverbs, Chinese characters, foreign words, numbers, determiners. Particles
# (J*), endings (E*), affixes (X*) and punctuation (S*) say nothing about the topic.
CONTENT_TAGS = frozenset(
    {"NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "MAG", "SH", "SL", "SN", "MM"}
)

_WORD = re.compile(r"\w+", re.UNICODE)
_HANGUL = re.compile(r"[\uac00-\ud7a3]")  # precomposed Hangul syllables

_LOAD_LOCK = threading.Lock()
_CALL_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _load_kiwi():
    from kiwipiepy import Kiwi

    # kiwipiepy's pool of one thread per core (num_workers=-1; it serves analyze/extract);
    # without the multi-word and typo dictionaries: 230 MB instead of 300 MB and the same
    # Belebele-ko figures.
    return Kiwi(num_workers=-1, load_multi_dict=False, load_typo_dict=False)


def analyzer():
    """The Kiwi analyzer, loaded once (the lock: concurrent first calls must not each load it)."""
    with _LOAD_LOCK:
        return _load_kiwi()


@lru_cache(maxsize=200_000)
def word_morphemes(word: str) -> tuple[str, ...]:
    """Content morphemes of one (lowercase) word, each prefixed with :data:`MORPH_PREFIX`.

    Only morphemes written in Hangul: the bigram tokenizer already has the word's Latin and
    digit parts.
    """
    kiwi = analyzer()
    with _CALL_LOCK:  # one analysis at a time: the analyzer is not documented as thread-safe
        tokens = kiwi.tokenize(word)
    return tuple(
        MORPH_PREFIX + t.form
        for t in tokens
        if t.tag.split("-")[0] in CONTENT_TAGS and _HANGUL.search(t.form)
    )


def korean_tokenize(text: str) -> list[str]:
    """BM25 terms of Korean text: :func:`tools.index.scoring.tokenize`, then each Hangul
    word's content morphemes (:func:`word_morphemes`), then the bigram across each place where
    a word's Hangul meets its digits or letters.

    "수도이며" gives the bigrams 수도, 도이, 이며 and the morpheme ``~수도``, so it matches
    "수도는" on ``~수도`` (and the bigram) but not the unrelated bigram 도이.
    """  # noqa: D205
    terms = tokenize(text)
    words = _WORD.findall(text.lower())
    terms.extend(m for w in words if _HANGUL.search(w) for m in word_morphemes(w))
    # tokenize() splits a word where Hangul meets digits or letters ("2019년" is "2019" and
    # "년"); the bigram across that edge ("9년") keeps the two parts' adjacency.
    terms.extend(w[i - 1 : i + 1] for w in words if not w.isascii() for i in script_edges(w))
    return terms
