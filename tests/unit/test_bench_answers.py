"""The answer benchmark's judgements and sums: hand-made turns, known figures."""

from __future__ import annotations

import pytest

from arag.evaluation.datasets import Dataset, Item
from benchmarks.answers.__main__ import parse_args
from benchmarks.answers.scoring import judge, summarize
from benchmarks.answers.sets import QuestionSet

ITEMS = [
    Item("a1", "When did Tesla die?", ["1943"], ["tesla.md"]),
    Item("a2", "Who founded the firm?", ["James O. McKinsey"], ["firm.md"]),
    Item("n1", "Which version added AES-GCM?", [], []),
    Item("o1", "월드컵 우승국은 어디인가요?", [], []),
]
KINDS = {"a1": "answerable", "a2": "answerable", "n1": "near_miss", "o1": "out_of_corpus"}


def _set() -> QuestionSet:
    return QuestionSet(
        "tiny",
        Dataset("tiny", "jsonl", ITEMS, []),
        KINDS,
        lambda item, citation: citation["source"] in item.gold,
    )


def _cite(*sources: str) -> list[dict]:
    return [{"id": f"{s}#0", "source": s, "title": s} for s in sources]


OUTPUTS = {
    "a1": {
        "route": "retrieval",
        "answer": "Tesla died on 7 January 1943 [1].",
        "cited": _cite("tesla.md"),
    },
    "a2": {"route": "retrieval", "answer": "The firm sells tools [1].", "cited": _cite("tools.md")},
    "n1": {"route": "insufficient", "answer": "I don't have enough information.", "cited": []},
    "o1": {"route": "retrieval", "answer": "Paris [1].", "cited": _cite("tesla.md")},
}


def test_each_turn_is_judged_as_a_user_would_see_it():
    qset = _set()
    judged = {item.id: judge(qset, item, OUTPUTS[item.id]) for item in ITEMS}
    assert judged["a1"].correct is True and judged["a1"].citations_right == 1
    assert judged["a2"].correct is False and judged["a2"].citations_right == 0
    assert judged["n1"].abstained and judged["n1"].correct is None
    assert judged["o1"].language == "ko" and not judged["o1"].abstained


def test_the_summary_counts_abstentions_citations_and_routes():
    qset = _set()
    summary = summarize([judge(qset, item, OUTPUTS[item.id]) for item in ITEMS])
    assert summary["answerable_correct"] == 0.5
    assert summary["abstention_precision"] == 1.0  # the one abstention was on a near-miss
    assert summary["abstention_recall"] == 0.5  # the out-of-corpus question got an answer
    assert summary["near_miss_abstained"] == 1.0 and summary["out_of_corpus_abstained"] == 0.0
    assert summary["citation_precision"] == pytest.approx(0.333)  # 1 of 3 citations right
    assert summary["routes"] == {"insufficient": 1, "retrieval": 3}
    assert summary["korean"] == {
        "questions": 1,
        "answerable_correct": None,
        "unanswerable_abstained": 0.0,
    }


def test_an_abstention_on_an_answerable_question_is_not_correct_even_if_it_quotes_the_answer():
    qset = _set()
    turn = {"route": "insufficient", "answer": "1943", "cited": _cite("tesla.md")}
    judged = judge(qset, ITEMS[0], turn)
    assert judged.correct is False and judged.citations == 0


@pytest.mark.parametrize("argv", [["--dataset", "squad"], ["--limit", "0"], ["--dataset", ","]])
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert "--" in capsys.readouterr().err
