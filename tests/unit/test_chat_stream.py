"""What a chat UI renders from LangGraph's ``messages`` stream: the checked answer, nothing else."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from graph.builder import build_graph
from graph.config import Context
from tests.fakes.node_chat_model import NodeScriptedChatModel
from tests.runs import stream

Q = "What is the capital of France?"
REJECTED = {"grounded": False, "useful": True, "unsupported": ["Lyon"], "reason": "wrong city"}
GOOD = {"grounded": True, "useful": True, "unsupported": [], "reason": "ok"}


def test_tool_calls_and_rejected_drafts_never_reach_the_messages_stream(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1], "reason": "names the capital"}],
            "generate_answer": ["The capital is Lyon [1].", "The capital is Paris [1]."],
            "check_answer": [REJECTED, GOOD],
        }
    )
    graph = build_graph(chat_model=model, index=static_index, embeddings=embeddings)
    parts = stream(
        graph, {"messages": [HumanMessage(Q)]}, context=Context(), stream_mode="messages"
    )
    shown = [(meta.get("langgraph_node"), message) for message, meta in parts]
    assert model.nodes_called.count("generate_answer") == 2  # the rejected draft was written
    assert [node for node, _ in shown] == ["respond"]
    ((_, message),) = shown
    assert not getattr(message, "tool_calls", None)
    assert "Lyon" not in message.content and message.content.startswith("The capital is Paris")
