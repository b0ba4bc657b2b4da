"""The offline answer's bounds: words (citation markers not counted) and stop sequences."""

from tools.text.limits import bound_answer

ANSWER = "Tesla died on 7 January 1943 [1]. In the years after these rumors [2], neither won [1]."


def test_unbounded_answer_is_unchanged():
    assert bound_answer(ANSWER) == ANSWER
    assert bound_answer(ANSWER, 100) == ANSWER


def test_cut_inside_a_sentence_keeps_its_citations():
    assert bound_answer(ANSWER, 3) == "Tesla died on [1]"
    assert bound_answer(ANSWER, 9) == "Tesla died on 7 January 1943 [1]. In the years [2][1]"


def test_cut_at_a_sentence_end_adds_nothing():
    assert bound_answer(ANSWER, 6) == "Tesla died on 7 January 1943 [1]."


def test_stop_ends_the_answer_before_the_sequence():
    assert bound_answer(ANSWER, stop=["1943"]) == "Tesla died on 7 January [1]"
    assert bound_answer(ANSWER, stop=["nowhere", "January"]) == "Tesla died on 7 [1]"
    # A marker that holds the stop sequence is not added back.
    assert bound_answer(ANSWER, stop=["[1]"]) == "Tesla died on 7 January 1943"
    assert bound_answer(ANSWER, 2, stop=["1943"]) == "Tesla died [1]"
