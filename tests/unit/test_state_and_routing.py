"""Reducers as pure functions, and every routing branch."""

import pytest

from graph import routing
from graph.config import Context
from graph.state import NEW_TURN, add_usage, append_failures, append_steps, merge_flags, new_turn


def test_append_steps_appends_single_and_lists():
    a = {"node": "a", "decision": "x", "reason": "r"}
    b = {"node": "b", "decision": "y", "reason": "r"}
    assert append_steps([a], b) == [a, b]
    assert append_steps(None, [a, b]) == [a, b]
    assert append_steps([a], None) == [a]


def test_merge_flags_is_an_ordered_union():
    assert merge_flags(["a"], ["b", "a"]) == ["a", "b"]
    assert merge_flags(None, "x") == ["x"]
    assert merge_flags(["x"], None) == ["x"]


def test_a_new_turn_list_replaces_what_earlier_turns_left():
    a = {"node": "a", "decision": "x", "reason": "r"}
    b = {"node": "b", "decision": "y", "reason": "r"}
    assert new_turn([b]) == [NEW_TURN, b]  # a plain JSON list, marker first
    assert append_steps([a, a], new_turn([b])) == [b]
    assert append_steps([a], [b]) == [a, b]  # no marker: appended
    assert merge_flags(["old"], new_turn(["x", "x"])) == ["x"]
    assert merge_flags(["old"], new_turn([])) == []
    failure = {"node": "n", "kind": "deadline", "cause": "c"}
    assert append_failures([failure], new_turn([])) == []
    assert append_failures(None, failure) == [failure]


def test_usage_is_summed():
    one = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    assert add_usage(None, one) == one
    assert add_usage(one, one) == {"input_tokens": 6, "output_tokens": 4, "total_tokens": 10}


def test_context_precedence_runtime_then_env_then_default(monkeypatch):
    monkeypatch.delenv("ARAG_K", raising=False)
    assert Context().k == 5
    monkeypatch.setenv("ARAG_K", "9")
    assert Context().k == 9
    assert Context.resolve({"k": 3}).k == 3
    assert Context.resolve({"k": 3, "unknown": 1}).k == 3


CTX = Context(max_rewrites=2, max_generations=2)


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        ("retrieve", "retrieve_documents"),
        ("web", "web_search"),
        ("closed_book", "respond"),
        ("error", "respond"),
    ],
)
def test_after_confidence(decision, expected):
    assert routing.after_confidence({"confidence": {"decision": decision}}) == expected


def test_after_confidence_raises_on_unknown_decision():
    with pytest.raises(routing.UnknownRouteError):
        routing.after_confidence({"confidence": {"decision": "maybe"}})


def test_after_condense_probes_concurrently_only_in_the_corpus_language():
    invalid = {"route": "invalid_input", "question": "", "corpus_language": "en"}
    assert routing.after_condense(invalid) == "respond"
    english = {
        "route": "retrieval",
        "question": "What year did Tesla die?",
        "corpus_language": "en",
    }
    assert routing.after_condense(english) == ["translate_question", "probe_corpus"]
    korean = {
        "route": "retrieval",
        "question": "테슬라는 몇 년에 사망했나요?",
        "corpus_language": "en",
    }
    assert routing.after_condense(korean) == ["translate_question"]


def test_after_translation():
    same = {"user_language": "en", "corpus_language": "en"}
    assert routing.after_translation(same) == "check_confidence"
    other = {"user_language": "ko", "corpus_language": "en"}
    assert routing.after_translation(other) == "probe_corpus"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"relevant_ids": ["a"]}, "generate_answer"),
        ({"relevant_ids": [], "rewrites": 0}, "rewrite_query"),
        ({"relevant_ids": [], "rewrites": 2}, "web_search"),
        ({"relevant_ids": [], "rewrites": 2, "web_searched": True}, "generate_answer"),
        ({"relevant_ids": ["a"], "answer": "x", "generations": 2}, "respond"),
    ],
)
def test_after_grading(state, expected):
    assert routing.after_grading(state, CTX) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"route": "retrieval"}, "check_answer"),
        ({"route": "web"}, "check_answer"),
        ({"route": "insufficient"}, "respond"),
        ({"route": "closed_book"}, "respond"),
    ],
)
def test_after_generation(state, expected):
    assert routing.after_generation(state) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"check": {"grounded": True, "useful": True}}, "respond"),
        ({"check": {"grounded": False, "useful": True}, "generations": 1}, "generate_answer"),
        ({"check": {"grounded": False, "useful": True}, "generations": 2}, "respond"),
        (
            {"check": {"grounded": True, "useful": False}, "generations": 1, "rewrites": 0},
            "rewrite_query",
        ),
        (
            {"check": {"grounded": True, "useful": False}, "generations": 1, "rewrites": 2},
            "respond",
        ),
        (
            {"check": {"grounded": True, "useful": False}, "generations": 2, "rewrites": 0},
            "respond",
        ),
    ],
)
def test_after_check(state, expected):
    assert routing.after_check(state, CTX) == expected


def test_after_check_raises_without_verdict():
    with pytest.raises(routing.UnknownRouteError):
        routing.after_check({"check": {}}, CTX)
