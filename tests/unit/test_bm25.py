"""In-process BM25 of small tables: ranking and the FTS-like tokenizer (pure functions)."""

from __future__ import annotations

from tools.index.bm25 import TermBm25, tokenizer


def test_rare_terms_and_short_texts_rank_first_and_misses_score_nothing():
    tok = tokenizer("en", "English")
    docs = [
        "The harbour exports grain and timber.",
        "Grain grain grain: a long text about grain markets, grain prices and grain ships.",
        "The lighthouse keeper wrote in his logbook.",
        "Timber from the mill.",
    ]
    index = TermBm25([tok(d) for d in docs])
    assert [pos for pos, _ in index.search(tok("lighthouse logbook"), 5)] == [2]
    ranked = index.search(tok("timber"), 5)
    assert [pos for pos, _ in ranked] == [3, 0]  # the shorter text first
    assert ranked[0][1] > ranked[1][1] > 0
    assert index.search(tok("volcano"), 5) == [] and index.search([], 5) == []
    assert len(index.search(tok("grain timber"), 1)) == 1


def test_tokenizer_stems_drops_stopwords_and_folds_accents_like_the_fts_index():
    tok = tokenizer("en", "English")
    assert tok("Which recreational travellers were there?") == ["recreat", "travel"]
    assert tok("Café") == tok("cafe")
    plain = tokenizer("xx", None)  # no stemmer, no stopwords
    assert plain("The Running dogs") == ["the", "running", "dogs"]
    assert tokenizer(None, None)("서울역") == ["서울", "울역"]  # bigrams, as n-gram FTS
