"""Korean morphemes for BM25 (tools/index/morph.py): the analyzer loads once, terms are stable."""

from __future__ import annotations

import threading

import kiwipiepy

from tools.index import morph


def test_concurrent_first_calls_load_the_analyzer_once(monkeypatch):
    loads = []
    start = threading.Barrier(8)

    class CountingKiwi:
        def __init__(self, **kwargs):
            loads.append(kwargs)

    monkeypatch.setattr(kiwipiepy, "Kiwi", CountingKiwi)
    morph._load_kiwi.cache_clear()
    try:

        def first_call():
            start.wait(timeout=10)
            morph.analyzer()

        threads = [threading.Thread(target=first_call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
    finally:
        morph._load_kiwi.cache_clear()  # the next caller loads the real analyzer
    assert len(loads) == 1
    assert loads[0]["num_workers"] == -1  # single-threaded: calls are one word each


def test_morphemes_keep_content_words_and_drop_particles_and_endings():
    assert morph.word_morphemes("대한민국의") == ("~대한민국",)
    assert morph.word_morphemes("공부했습니다") == ("~공부",)
    # The bigram terms come first, unchanged; only Hangul morphemes are added after them.
    # A number glued to a Hangul unit is two words, so the year stays a number; the bigram
    # across the edge ("9년") keeps them adjacent (Belebele-ko R@1 0.848 -> 0.850).
    assert morph.korean_tokenize("2019년 Seoul") == ["2019", "년", "seoul", "~년", "9년"]
    assert morph.korean_tokenize("gzip은 빠르다")[:2] == ["gzip", "은"]
    assert "p은" in morph.korean_tokenize("gzip은 빠르다")
