"""Offline mode end to end over the real embedded index: no LLM, real retrieval, real citations."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from graph.builder import build_graph
from graph.config import Context
from tests.runs import invoke


@pytest.fixture(scope="module")
def offline_graph(sample_data_dir, embeddings):
    return build_graph(chat_model=None, embeddings=embeddings)


def ask(graph, data_dir, question, **ctx):
    context = Context(data_dir=str(data_dir), **ctx)
    return invoke(graph, {"messages": [HumanMessage(question)]}, context=context)


@pytest.mark.parametrize(
    ("question", "expected", "source"),
    [
        ("What year did Tesla die?", "1943", "nikola_tesla.md"),
        ("When did Carl Wilhelm Scheele discover oxygen?", "1773", "oxygen.md"),
        (
            "How many square kilometres of the Amazon forest was lost by 1991?",
            "415,000",
            "amazon_rainforest.md",
        ),
    ],
)
def test_covered_question_gets_a_cited_extractive_answer(
    offline_graph, sample_data_dir, question, expected, source
):
    result = ask(offline_graph, sample_data_dir, question)
    assert result["mode"] == "offline"
    assert result["route"] == "retrieval"
    assert expected in result["answer"]
    assert result["citations"], result["path"]
    assert all(c["source"].endswith(source) for c in result["citations"])
    assert (
        result["citations"][0]["id"].endswith(f"{source}#0") or "#" in result["citations"][0]["id"]
    )
    text = result["messages"][-1].content
    assert "extractive answer (no LLM configured)" in text
    assert "[1] " in text and source in text
    check = [s for s in result["path"] if s["node"] == "check_answer"]
    assert check and check[-1]["decision"] == "ok"


def test_uncovered_question_is_insufficient_not_guessed(offline_graph, sample_data_dir):
    result = ask(offline_graph, sample_data_dir, "Who wrote the novel Pride and Prejudice?")
    assert result["route"] == "insufficient"
    assert result["citations"] == []
    assert "enough information" in result["answer"]
    confidence = next(s for s in result["path"] if s["node"] == "check_confidence")
    assert confidence["decision"] == "web"  # the corpus does not cover it
    assert "extractive answer (no LLM configured)" in result["messages"][-1].content


def test_korean_question_offline_says_translation_needs_an_llm(offline_graph, sample_data_dir):
    result = ask(offline_graph, sample_data_dir, "테슬라는 몇 년에 사망했나요?")
    assert "translation_skipped" in result["flags"]
    translate = next(s for s in result["path"] if s["node"] == "translate_question")
    assert translate["decision"] == "skipped" and "needs an LLM" in translate["reason"]
    assert "translation needs an LLM" in result["messages"][-1].content
    if result["route"] == "insufficient":
        assert result["answer"] == "정보가 부족하여 답변할 수 없습니다."


def test_missing_index_gives_a_clear_error_route(tmp_path, embeddings):
    graph = build_graph(chat_model=None, embeddings=embeddings)
    result = ask(graph, tmp_path / "nothing-here", "What year did Tesla die?")
    assert result["route"] == "error"
    assert "arag ingest" in result["answer"]


def test_k_setting_bounds_retrieved_documents(offline_graph, sample_data_dir):
    from tools.embeddings import WordLlamaEmbeddings
    from tools.index import open_index
    from tools.index.search import search

    index = open_index(str(sample_data_dir), WordLlamaEmbeddings())
    docs = search(index, "Tesla", 2)
    assert len(docs) <= 2
    assert all({"id", "source", "title", "score", "content"} <= set(d) for d in docs)
