"""Sentence-by-sentence release of a streamed draft (tools/text/release.py)."""

from __future__ import annotations

from tools.text.extractive import sentence_supported
from tools.text.release import SentenceRelease

DOCS = [
    {"id": "t#0", "title": "Tesla", "source": "t.md", "score": 1.0,
     "content": "Nikola Tesla died on 7 January 1943 in New York. He was born in 1856."},
]  # fmt: skip


def _stream(text: str, step: int = 3, verified=lambda s: sentence_supported(s, DOCS)):
    shown: list[str] = []
    release = SentenceRelease(verified=verified, on_release=shown.append)
    for i in range(0, len(text), step):
        release.feed(text[i : i + step])
        assert release.released == "".join(shown)  # what was shown is exactly what was released
    return release, shown


def test_each_verified_sentence_is_shown_once_the_next_has_begun():
    release, shown = _stream("Tesla died in 1943 [1]. He was born in 1856 [1]. Bye")
    assert shown == ["Tesla died in 1943 [1].", " He was born in 1856 [1]."]
    assert release.answer() == ("Tesla died in 1943 [1]. He was born in 1856 [1]. Bye", False)


def test_the_last_sentence_waits_for_the_check():
    release, shown = _stream("Tesla died in 1943 [1].")
    assert shown == [] and release.answer()[0] == "Tesla died in 1943 [1]."


def test_a_citation_after_the_full_stop_belongs_to_its_sentence():
    _, shown = _stream("Tesla died in 1943. [1] He was born in 1856 [1]. And", step=1)
    assert shown[0] == "Tesla died in 1943. [1]"


def test_the_first_unverified_sentence_stops_the_release():
    text = "Tesla died in 1943 [1]. He died in 1950 [1]. He was born in 1856 [1]. End"
    release, shown = _stream(text)
    assert shown == ["Tesla died in 1943 [1]."] and release.stopped
    answer, _ = release.answer()
    assert answer.startswith(release.released) and "1950" in answer  # held for the check


def test_uncited_or_marked_up_sentences_are_held():
    _, shown = _stream("Tesla died in 1943. He was born in 1856 [1]. End")
    assert shown == []
    _, shown = _stream("<b>Tesla</b> died in 1943 [1]. More [1]. End", verified=lambda s: True)
    assert shown == []


def test_paragraph_breaks_survive_between_released_sentences():
    release, shown = _stream("Tesla died in 1943 [1].\n\nHe was born in 1856 [1].\n\nEnd")
    assert shown == ["Tesla died in 1943 [1].", "\n\nHe was born in 1856 [1]."]
    assert release.answer()[0] == "Tesla died in 1943 [1].\n\nHe was born in 1856 [1].\n\nEnd"


def test_a_stated_number_must_be_in_the_cited_document():
    assert sentence_supported("Tesla died in New York in 1943 [1].", DOCS)
    assert not sentence_supported("Tesla died in New York in 1950 [1].", DOCS)
    assert not sentence_supported("Tesla died in New York in 1943.", DOCS)  # uncited
    assert not sentence_supported("Tesla died in New York in 1943 [2].", DOCS)  # no such doc


def test_an_abbreviation_or_initial_does_not_end_a_released_sentence():
    docs = [{**DOCS[0], "content": "Dr. Smith met James O. McKinsey in 1943. They talked."}]
    _, shown = _stream(
        "Dr. Smith met James O. McKinsey in 1943 [1]. They talked [1]. End",
        verified=lambda s: sentence_supported(s, docs),
    )
    assert shown == ["Dr. Smith met James O. McKinsey in 1943 [1].", " They talked [1]."]
