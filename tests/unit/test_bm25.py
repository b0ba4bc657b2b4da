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


def test_korean_tokenizer_matches_inflected_words_that_share_no_bigram():
    """책이 / 책을 (one-syllable noun, other particle) and 걷는 / 걸었다 (irregular verb) share
    no character bigram; their morphemes (~책, ~걷) match."""
    ko, bigrams = tokenizer("ko", None), tokenizer(None, None)
    docs = ["그는 도서관에서 책을 읽었다.", "그는 공원을 걸었다.", "봄이 오면 꽃이 핀다."]
    for query, gold in (("책이 어디에 있나요?", 0), ("걷는 사람", 1)):
        assert TermBm25([bigrams(d) for d in docs]).search(bigrams(query), 3) == []
        hits = TermBm25([ko(d) for d in docs]).search(ko(query), 3)
        assert [pos for pos, _ in hits] == [gold]
    assert ko("수도이며")[:3] == bigrams("수도이며") == ["수도", "도이", "이며"]
    assert "~수도" in ko("수도이며") and "~수도" in ko("수도는")
