"""Calibrated hybrid scoring: bounded, monotone, and rewarding documents that match the query."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.documents import Document

from tools.index.scoring import (
    Candidate,
    calibrated_score,
    dense_to_unit,
    fuse,
    lexical_coverage,
    stem,
    term_set,
    tokenize,
)

GRID = [i / 10 for i in range(-10, 11)]
COVERAGES = [i / 10 for i in range(11)]


def test_tokenize_drops_stopwords_and_keeps_numbers():
    assert tokenize("What is the capital of France in 1985?") == ["capital", "franc", "1985"]


def test_plurals_and_inflections_match_their_stem():
    assert stem("volcanoes") == stem("volcano")
    assert stem("cities") == "city"
    assert stem("erupted") == stem("erupt") == stem("erupting")
    assert stem("died") == stem("die") and stem("based") == stem("base") == stem("bases")
    assert stem("need") == "need"
    assert stem("churches") == stem("church")


def test_coverage_is_one_for_all_terms_and_zero_for_none():
    query = "When did Mount Etna erupt?"
    assert lexical_coverage(query, "Mount Etna erupted violently in 1669.") == 1.0
    assert lexical_coverage(query, "Sourdough bread needs a starter.") == 0.0


def test_coverage_is_partial_and_bounded():
    cov = lexical_coverage("Etna eruption lava", "Etna is in Sicily.")
    assert 0.0 < cov < 1.0


def test_query_without_content_terms_has_zero_coverage():
    assert lexical_coverage("what is it?", "It is what it is.") == 0.0


def test_numbers_count():
    query = "Which team won Super Bowl 50?"
    right = "Denver won Super Bowl 50."
    wrong = "Denver won Super Bowl 49."
    assert lexical_coverage(query, right) > lexical_coverage(query, wrong)
    assert lexical_coverage("events of 1985", "It happened in 1985.") > lexical_coverage(
        "events of 1985", "It happened in 1986."
    )


def test_longer_rarer_terms_weigh_more():
    query = "cat photosynthesis"
    assert lexical_coverage(query, "photosynthesis") > lexical_coverage(query, "cat")


def test_calibrated_score_is_in_unit_interval():
    for cos, cov in itertools.product(GRID, COVERAGES):
        assert 0.0 <= calibrated_score(cos, cov) <= 1.0


def test_calibrated_score_is_monotone_in_both_arguments():
    for cov in COVERAGES:
        scores = [calibrated_score(cos, cov) for cos in GRID]
        assert scores == sorted(scores)
    for cos in GRID:
        scores = [calibrated_score(cos, cov) for cov in COVERAGES]
        assert scores == sorted(scores)


def test_dense_ramp_endpoints():
    assert dense_to_unit(0.0) == 0.0
    assert dense_to_unit(0.99) == 1.0
    assert 0.0 < dense_to_unit(0.4) < 1.0


def test_doc_with_all_query_terms_beats_doc_with_none_at_equal_cosine():
    query = "When did Mount Etna erupt?"
    full = lexical_coverage(query, "Mount Etna erupted in 1669.")
    none = lexical_coverage(query, "Bread needs flour.")
    assert calibrated_score(0.3, full) > calibrated_score(0.3, none)


def _cand(text: str, dense: float, bm25: float | None = None) -> Candidate:
    return Candidate(Document(page_content=text, metadata={"chunk_id": text[:10]}), dense, bm25)


def test_fuse_puts_the_matching_document_first_with_calibrated_scores():
    query = "When did Mount Etna erupt?"
    results = fuse(
        query,
        [
            _cand("Bread needs flour and water.", 0.35),
            _cand("Mount Etna erupted in 1669, destroying Catania.", 0.30, bm25=7.5),
            _cand("Volcanoes are found near plate boundaries.", 0.32, bm25=1.0),
        ],
    )
    assert results[0].doc.page_content.startswith("Mount Etna")
    doc, score, dense, lexical = results[0]
    assert lexical == 1.0 and dense == pytest.approx(0.30)
    assert score == pytest.approx(calibrated_score(0.30, 1.0))
    assert all(0.0 <= r.score <= 1.0 for r in results)


def test_fuse_of_nothing_is_empty():
    assert fuse("anything", []) == []


def test_a_ramp_is_fitted_from_unrelated_and_gold_cosines_and_an_unknown_model_falls_back():
    from tools.index.calibration import WORDLLAMA, calibration_for, fit_ramp

    unrelated = [i / 100 for i in range(0, 21)]  # 0.00 .. 0.20
    gold = [0.4 + i / 100 for i in range(0, 41)]  # 0.40 .. 0.80
    assert fit_ramp(unrelated, gold) == (0.19, 0.7)
    with pytest.raises(ValueError, match="not below"):
        fit_ramp(gold, unrelated)  # a model that cannot tell the two apart has no ramp
    assert calibration_for(WORDLLAMA.embedding_model).fitted
    other = calibration_for("openai:text-embedding-3-small")
    assert not other.fitted and (other.cos_low, other.cos_high) == (0.15, 0.65)
    assert dense_to_unit(0.5, (0.5, 0.9)) == 0.0 < dense_to_unit(0.5) < 1.0


def test_a_latin_name_glued_to_a_korean_particle_is_still_the_name():
    from tools.index.bm25 import tokenizer
    from tools.index.scoring import split_scripts

    # "gzip은" (gzip + topic particle) must find the English corpus's "gzip".
    assert tokenize("gzip은 기본적으로")[:2] == ["gzip", "은"]
    assert "api" in tokenize("API를 호출합니다")
    assert tokenizer("en", "english")("gzip은 LZ77을")[0] == "gzip"
    assert split_scripts("gzip은 LZ77을 씁니다") == "gzip 은 LZ77 을 씁니다"
    assert split_scripts("plain ascii") == "plain ascii"


@given(st.text(alphabet=st.characters(max_codepoint=127)) | st.text())
def test_word_split_is_the_regex_split_ascii_fast_path_included(text):
    from tools.index.scoring import _WORD, _words

    lowered = text.lower()
    assert _words(lowered) == _WORD.findall(lowered)


def test_word_split_on_punctuation_underscores_and_control_characters():
    from tools.index.scoring import _words

    assert _words("snake_case,x1\x1fy\tz--2019's") == ["snake_case", "x1", "y", "z", "2019", "s"]
    assert term_set("Tesla's coils, 1891") == {"tesla", "coil", "1891"}
