"""Guarantees that hold for any model, shown with scripted replies of the kinds real models give.

The same guarantees are exercised against a real model (SmolLM2 on llama.cpp) in tests/model.
"""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from graph.builder import build_graph
from graph.config import Context
from tests.fakes.node_chat_model import NodeScriptedChatModel
from tests.runs import invoke
from tools.text.sanitize import plain_text

Q = "What is the capital of France?"
KOREAN = "프랑스의 수도는 어디인가요?"
GOOD = {"grounded": True, "useful": True, "unsupported": [], "reason": "ok"}


def run(model, index, embeddings, question=Q, ctx=None):
    graph = build_graph(chat_model=model, index=index, embeddings=embeddings)
    return invoke(graph, {"messages": [HumanMessage(question)]}, context=ctx or Context())


def step_of(result, node):
    return [s for s in result["path"] if s["node"] == node][-1]


def test_an_uncited_answer_is_never_grounded_and_is_replaced_by_cited_sentences(
    static_index, embeddings
):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            # A hallucination with no citation; the checker would have waved it through.
            "generate_answer": ["Paris, awarded 38 patents since 2015."],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings)
    assert "check_answer" not in model.nodes_called  # no checker may call it grounded
    assert model.nodes_called.count("generate_answer") == 2  # one more draft was asked for
    assert step_of(result, "check_answer")["reason"].endswith("the answer cites no document")
    assert "uncited_answer_replaced" in result["flags"]
    assert "38 patents" not in result["answer"]
    assert result["route"] == "retrieval" and result["citations"][0]["id"] == "france#0"
    assert "cited no source" in result["messages"][-1].content


def test_grader_numbers_for_documents_not_offered_are_dropped_and_counted(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1, 302964785, 2023, 20], "reason": "yes"}],
            "generate_answer": ["Paris is the capital [1]."],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings)
    grade = step_of(result, "grade_documents")
    assert grade["decision"] == "1 relevant"
    assert "dropped 3 reference(s) to documents not offered" in grade["reason"]
    assert "invalid_references" in result["flags"]
    assert result["answer"] == "Paris is the capital [1]."


def test_prompt_markup_and_html_never_reach_the_answer(static_index, embeddings):
    echoed = '<answer>Paris [1]</answer><document n="2" title="Lyon">Lyon is big.</document>'
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": [echoed + "<|im_end|>"],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings)
    assert result["answer"] == "Paris [1]"
    assert "markup_removed" in result["flags"]
    assert plain_text(result["messages"][-1].content)[1] is False  # nothing left to strip


def test_an_empty_provider_stream_is_a_visible_fallback_not_a_traceback(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["Paris is the capital [1]."],
            # What LangChain raises when a real server's stream carries no generation.
            "check_answer": [ValueError("No generations found in stream.")],
        }
    )
    result = run(model, static_index, embeddings)
    check = step_of(result, "check_answer")
    assert check["reason"].startswith("LLM failed (unreadable response (ValueError)); sentence")
    assert {"llm_error", "check_fallback"} <= set(result["flags"])
    assert "the language model failed (unreadable response" in result["messages"][-1].content
    assert result["route"] == "retrieval"


def test_an_echoed_translation_is_doubted_and_the_question_as_written_is_searched(
    static_index, embeddings
):
    model = NodeScriptedChatModel(
        replies={
            "translate_question": [KOREAN],  # a small model's "translation": the question again
            "check_confidence": [{"answer": "Paris", "confidence": 1.0}],
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["파리 [1]."],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings, question=KOREAN)
    translate = step_of(result, "translate_question")
    assert translate["decision"] == "doubtful"
    assert "repeats the question" in translate["reason"]
    assert "translation_doubtful" in result["flags"]
    assert KOREAN in static_index.searches
    # Confidence 1.0 after a doubtful translation is not confident enough to skip retrieval.
    assert step_of(result, "check_confidence")["decision"] == "retrieve"
    assert result["route"] == "retrieval"


def test_a_translation_in_the_wrong_language_is_doubted(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "translate_question": ["La capitale de la France est-elle Paris ou Lyon ?"],
            "check_confidence": [{"answer": "UNKNOWN", "confidence": 0.0}],
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["파리 [1]."],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings, question=KOREAN)
    assert step_of(result, "translate_question")["decision"] == "doubtful"
    assert "not English" in step_of(result, "translate_question")["reason"]


def test_a_translation_matching_far_worse_than_the_original_is_doubted(static_index, embeddings):
    # The index matches the question as written strongly and its "translation" not at all.
    static_index.hits[KOREAN] = static_index.hits[Q]
    model = NodeScriptedChatModel(
        replies={
            "translate_question": ["What is the weather in Oslo?"],
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["파리 [1]."],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings, question=KOREAN)
    probe = step_of(result, "probe_corpus")
    assert "both searched" in probe["reason"]
    assert "translation_doubtful" in result["flags"]
    assert result["citations"][0]["id"] == "france#0"


def test_a_self_reported_confidence_has_its_own_higher_bar(static_index, embeddings):
    ctx = Context()
    assert ctx.verbalized_confidence_high > ctx.confidence_high
    between = (ctx.confidence_high + ctx.verbalized_confidence_high) / 2
    model = NodeScriptedChatModel(
        replies={
            # A verbalized 0.9: confident on the logprob scale, not on the self-reported one.
            "check_confidence": [{"answer": "Probably Lyon.", "confidence": between}],
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["Paris is the capital [1]."],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings, question="Which city is biggest?")
    confidence = step_of(result, "check_confidence")
    assert "(verbalized)" in confidence["reason"]
    assert confidence["decision"] == "retrieve"
    assert result["route"] == "retrieval"
