"""Tokenize text word by word from a cache, for tokenizers where that gives the same ids.

WordLlama's tokenizer (Llama's BPE) has no pre-tokenizer: the normalizer turns spaces into "▁"
and prepends one, and BPE then runs over each whole text. The library's own word cache never
hits (every paragraph is one new "word"), so ingestion spent more CPU tokenizing than on
anything else. Adding a ``Split`` pre-tokenizer instead gives the same ids but measured slower.

When no vocabulary token holds a "▁" after another character, no merge can cross a space: the
ids of ``"a b"`` are the ids of ``"a"`` followed by those of ``"b"`` (each tokenized alone gets
its "▁" from the prepend, as it does from the space in context). So a text whose words are
separated by single spaces tokenizes as the concatenation of its words' cached ids. Texts
this does not cover (empty words from leading, trailing or repeated spaces; a literal "▁")
go to the tokenizer whole.
"""

from __future__ import annotations

import json
from itertools import chain

SPACE = "▁"
# Above this many cached words the cache starts over: a bound on memory (about 100 bytes
# a word) for a long-lived process that ingests many unrelated corpora.
MAX_WORDS = 200_000


def splits_exactly_at_spaces(tokenizer) -> bool:
    """True when ``tokenizer`` is a Llama-style BPE whose ids concatenate across spaces."""
    config = json.loads(tokenizer.to_str())
    model, normalizer = config.get("model") or {}, config.get("normalizer") or {}
    expected = [
        {"type": "Prepend", "prepend": SPACE},
        {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
    ]
    if config.get("pre_tokenizer") is not None or model.get("type") != "BPE":
        return False
    if normalizer.get("type") != "Sequence" or normalizer.get("normalizers") != expected:
        return False
    # No token may join a space to what precedes it ("x▁y" or "x▁"), else merges could cross.
    return not any(SPACE in token.lstrip(SPACE) for token in model.get("vocab", {}))


class WordTokenCache:
    """Token ids of texts, assembled from the ids of their space-separated words.

    ``encode_batch`` is the tokenizer's batch call (texts → lists of ids, no special tokens);
    it tokenizes the words not seen before and the texts the word rule does not cover. Safe to
    share between threads: a full cache is replaced by a new one, never emptied in place.
    """

    def __init__(self, encode_batch, max_words: int = MAX_WORDS) -> None:
        self._encode_batch = encode_batch
        self._max_words = max_words
        self._ids: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """The ids the tokenizer gives each of ``texts``."""
        words = [t.split(" ") if _word_rule_covers(t) else None for t in texts]
        whole = [t for t, w in zip(texts, words, strict=True) if w is None]
        # A local reference: when the cache is full another thread may swap in a new dict,
        # and this call must keep reading the one it filled.
        cache = self._ids
        # set.difference(dict) probes the dict; "- cache.keys()" would copy every key.
        seen = set(chain.from_iterable(w for w in words if w is not None))
        missing = list(seen.difference(cache))
        fresh = self._encode_batch(missing + whole) if missing or whole else []
        if missing:
            if len(cache) + len(missing) > self._max_words:
                # Start over, keeping only this call's words (it reads them below).
                kept = {w: ids for w in seen if (ids := cache.get(w)) is not None}
                cache = self._ids = kept
            cache.update(zip(missing, fresh, strict=False))
        rest = iter(fresh[len(missing) :])
        get = cache.__getitem__
        return [next(rest) if w is None else list(chain.from_iterable(map(get, w))) for w in words]


def _word_rule_covers(text: str) -> bool:
    # An empty word ("", or a space at either end or next to another) would leave a "▁"
    # free to merge with its neighbour; a literal "▁" would be one already.
    return bool(text) and SPACE not in text and "  " not in text and text[0] != " " != text[-1]
