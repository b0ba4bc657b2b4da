"""The word cache gives exactly the tokenizer's ids (WordLlama's real tokenizer, real documents)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer
from tokenizers.models import BPE
from tokenizers.normalizers import Prepend, Replace, Sequence
from tokenizers.pre_tokenizers import Whitespace

from tools.token_cache import WordTokenCache, splits_exactly_at_spaces

REALISTIC = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "realistic"
EDGE_CASES = [
    "",
    " ",
    "a",
    "two  spaces",
    " leading space",
    "trailing space ",
    "a literal ▁ mark",
    "ends with▁ then a word",
    "▁starts with one",
    "marks ▁ ▁ side by side",
    "tab\tinside and\nnew line",
    "\nafter a newline",
    "한국어 문장과 English words",
    "emoji 🙂 and café, naïve résumé",
    "(parentheses), commas; and -- dashes...",
    "x" * 300,
]


@pytest.fixture(scope="module")
def tokenizer(embeddings):
    return embeddings.tokenizer


def _reference(tokenizer, texts):
    return [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def _cache(tokenizer, **kwargs):
    return WordTokenCache(lambda texts: _reference(tokenizer, texts), **kwargs)


def test_wordllama_tokenizer_qualifies_for_the_word_rule(tokenizer):
    assert splits_exactly_at_spaces(tokenizer)


def test_edge_cases_tokenize_as_the_tokenizer_does(tokenizer):
    assert _cache(tokenizer).token_ids(EDGE_CASES) == _reference(tokenizer, EDGE_CASES)


def test_real_documents_tokenize_as_the_tokenizer_does(tokenizer):
    # Raw lines of hard-wrapped READMEs and HTML (indents, repeated spaces, markup), whole
    # files, and each line after a newline as ingestion's chunker asks for them.
    texts = []
    for path in sorted(REALISTIC.iterdir()):
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = [line for line in text.splitlines() if line]
        texts += [text, *lines, *("\n" + line for line in lines)]
    assert len(texts) > 2000
    cache = _cache(tokenizer)
    assert cache.token_ids(texts) == _reference(tokenizer, texts)
    # A second pass reads every word from the cache and still agrees.
    assert cache.token_ids(texts[::-1]) == _reference(tokenizer, texts[::-1])


def test_a_full_cache_starts_over_and_stays_correct(tokenizer):
    cache = _cache(tokenizer, max_words=50)
    texts = [f"word{i} shared words here" for i in range(200)]
    for start in range(0, 200, 20):
        batch = texts[start : start + 20]
        assert cache.token_ids(batch) == _reference(tokenizer, batch)
        assert len(cache) <= 50


def _tiny_bpe(vocab, pre_tokenizer=None):
    tok = Tokenizer(BPE(vocab=vocab, merges=[]))
    tok.normalizer = Sequence([Prepend("▁"), Replace(" ", "▁")])
    if pre_tokenizer is not None:
        tok.pre_tokenizer = pre_tokenizer
    return tok


def test_tokenizers_where_words_do_not_concatenate_are_refused():
    plain = {"▁": 0, "a": 1, "b": 2}
    assert splits_exactly_at_spaces(_tiny_bpe(plain))
    # A token that joins a word to the next space: merges could cross words.
    assert not splits_exactly_at_spaces(_tiny_bpe({**plain, "a▁b": 3}))
    assert not splits_exactly_at_spaces(_tiny_bpe(plain, Whitespace()))


def test_embeddings_use_the_cache_for_batches(embeddings):
    texts = ["The first ingest tokenizes words once.", "Later ingests read them back."]
    assert embeddings.token_ids(texts) == _reference(embeddings.tokenizer, texts)
    assert embeddings._words is not None and len(embeddings._words) >= 10
