"""A follow-up that names a new topic is searched alone; one that leans on the thread is not."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from graph.builder import build_graph
from graph.config import Context
from tests.runs import invoke
from tools.text.followup import needs_history


@pytest.mark.parametrize(
    ("question", "previous", "needs"),
    [
        ("What about the Black Death, when did it start?", "When was oxygen discovered?", False),
        ("What year did Tesla die?", "When was oxygen discovered?", False),
        ("Who did he partner with in 1886?", "What year did Tesla die?", True),
        ("And when did he die?", "Who discovered oxygen?", True),
        ("How big is it?", "What is the Amazon rainforest?", True),
        ("그는 언제 죽었나요?", "테슬라는 누구인가요?", True),
    ],
)
def test_needs_history(question, previous, needs):
    assert needs_history(question, previous) is needs


def test_a_new_topic_in_a_thread_gets_its_own_search_offline(static_index, embeddings):
    graph = build_graph(
        chat_model=None, index=static_index, embeddings=embeddings, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "t"}}
    invoke(graph, {"messages": [HumanMessage("What is the capital of France?")]}, config,
           context=Context())  # fmt: skip
    new_topic = "What about the Black Death, when did it start?"
    second = invoke(graph, {"messages": [HumanMessage(new_topic)]}, config, context=Context())
    assert second["path"][0]["decision"] == "new_topic"
    searched = [q for q in static_index.searches if q.startswith("What about")]
    assert searched and all("France" not in q for q in searched)
    follow_up = invoke(graph, {"messages": [HumanMessage("When did it end?")]}, config,
                       context=Context())  # fmt: skip
    assert follow_up["path"][0]["decision"] == "offline_context"  # leans on the thread
