"""The model-driven follow-up search (IRCoT-style) over a real index: one hop, bounded.

A bridge question ("Where was the director of Zephyr born?") needs a document that only the
first hit names. Offline expansion is off here (``multihop=False``), so what the answer sees
comes from the model's follow-up query alone.
"""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from graph.builder import build_graph
from graph.config import Context
from tests.fakes.node_chat_model import NodeScriptedChatModel
from tests.integration.test_retrieval_features import _index
from tests.runs import invoke
from tools.llm.closed_book import UNKNOWN

FILMS = {
    "Zephyr (film)": "Zephyr is a 1998 drama film; its director is Marta Kowalczyk. It follows "
    "a lighthouse keeper on the Baltic coast.",
    "Zephyr (festival)": "The Zephyr festival is held each year in a seaside city.",
    "Zephyr (soundtrack)": "The Zephyr soundtrack was recorded in Vienna in 1999.",
    "Marta Kowalczyk": "Marta Kowalczyk is a Polish screenwriter. Kowalczyk grew up in Gdansk, "
    "where her parents ran a bakery.",
    "Gdansk shipyard": "The Gdansk shipyard is a large shipyard on the Baltic coast.",
}
QUESTION = "In which city was the director of the film Zephyr born?"
ANSWER = "She grew up in Gdansk [2]."


def _run(tmp_path, embeddings, follow_up, **ctx):
    model = NodeScriptedChatModel(
        replies={
            "check_confidence": [UNKNOWN],
            "follow_up_search": [follow_up],
            "grade_documents": [{"relevant": [1, 2], "reason": "both"}],
            "generate_answer": [ANSWER],
            "check_answer": [{"grounded": True, "useful": True, "reason": "ok"}],
        }
    )
    index = _index(tmp_path, embeddings, FILMS)
    graph = build_graph(chat_model=model, index=index, embeddings=embeddings)
    context = Context(multihop=False, k=2, web_search="none", **ctx)
    result = invoke(graph, {"messages": [HumanMessage(QUESTION)]}, context=context)
    return result, model


def _generate_prompt(model: NodeScriptedChatModel) -> str:
    call = next(c for c in model.log if c["node"] == "generate_answer")
    return "\n".join(str(m.content) for m in call["messages"])


def test_without_the_follow_up_the_directors_page_is_never_seen(tmp_path, embeddings):
    result, model = _run(tmp_path, embeddings, {"query": "Marta Kowalczyk birthplace"})
    assert "follow_up_search" not in model.nodes_called  # off by default
    assert "her parents ran a bakery" not in _generate_prompt(model)
    assert not any("follow-up" in s["decision"] for s in result["path"])


def test_the_follow_up_query_brings_the_bridge_document_in_second(tmp_path, embeddings):
    result, model = _run(
        tmp_path, embeddings, {"query": "Marta Kowalczyk birthplace"}, followup_search=True
    )
    assert model.nodes_called.count("follow_up_search") == 1
    asked = next(c for c in model.log if c["node"] == "follow_up_search")["messages"][-1].content
    assert QUESTION in asked and "Zephyr is a 1998 drama film" in asked  # the top hit, read
    assert "Kowalczyk grew up" not in asked
    follow = next(s for s in result["path"] if s["decision"].startswith("follow-up"))
    assert follow["decision"] == "follow-up: +1"
    assert "'Marta Kowalczyk birthplace': Marta Kowalczyk" in follow["reason"]
    prompt = _generate_prompt(model)
    assert prompt.index("Zephyr is a 1998 drama film") < prompt.index("her parents ran a bakery")
    assert result["answer"].startswith("She grew up in Gdansk")
    assert [c["title"] for c in result["citations"]] == ["Marta Kowalczyk"]


def test_a_follow_up_that_matches_nothing_adds_nothing(tmp_path, embeddings):
    result, model = _run(
        tmp_path, embeddings, {"query": "quantum chromodynamics"}, followup_search=True
    )
    follow = next(s for s in result["path"] if s["decision"].startswith("follow-up"))
    assert follow["decision"] == "follow-up: +0"
    assert "nothing new scored 0.35 or more" in follow["reason"]
    assert "her parents ran a bakery" not in _generate_prompt(model)


def test_no_follow_up_when_the_model_asks_for_none_or_fails(tmp_path, embeddings):
    result, model = _run(tmp_path, embeddings, {"query": ""}, followup_search=True)
    assert model.nodes_called.count("follow_up_search") == 1
    assert any(s["reason"] == "the model asked for no other search" for s in result["path"])
    assert "her parents ran a bakery" not in _generate_prompt(model)

    result, model = _run(
        tmp_path / "fails", embeddings, RuntimeError("503 upstream"), followup_search=True
    )
    skipped = next(s for s in result["path"] if s["decision"] == "no follow-up")
    assert "first search kept" in skipped["reason"]
    assert "LLM failed (RuntimeError)" in skipped["reason"] and "llm_error" in result["flags"]
    assert result["answer"]  # the turn went on with the first search's documents
