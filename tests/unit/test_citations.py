"""Citations as a user reads them: each source once, named by its path under the ingest root."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from graph.builder import build_graph
from graph.config import Context
from tests.fakes.node_chat_model import NodeScriptedChatModel
from tests.fakes.static_index import StaticIndex
from tests.runs import invoke

Q = "How do I install the tool?"
GOOD = {"grounded": True, "useful": True, "unsupported": [], "reason": "ok"}


def test_two_chunks_of_one_file_are_one_source(embeddings):
    index = StaticIndex(
        hits={
            Q: [
                ("manual#0", "Run make to build it.", 0.9),
                ("faq#0", "Installing needs a C compiler.", 0.8),
                ("manual#3", "Then run make install as root.", 0.85),
            ]
        }
    )
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1, 2, 3], "reason": "all"}],
            "generate_answer": ["Run make [1], with a C compiler [2], then make install [3][1]."],
            "check_answer": [GOOD],
        }
    )
    graph = build_graph(chat_model=model, index=index, embeddings=embeddings)
    result = invoke(graph, {"messages": [HumanMessage(Q)]}, context=Context())
    assert result["answer"] == "Run make [1], with a C compiler [2], then make install [1]."
    assert [(c["n"], c["source"]) for c in result["citations"]] == [
        (1, "manual.md"),
        (2, "faq.md"),
    ]
    assert result["messages"][-1].content.count("manual.md") == 1


def test_citations_name_the_file_under_the_ingest_root_never_a_server_path(tmp_path, embeddings):
    from tools.ingest.pipeline import ingest

    docs = tmp_path / "srv" / "docs"
    (docs / "guides").mkdir(parents=True)
    (docs / "guides" / "zebras.md").write_text("# Zebras\n\nZebras have black and white stripes.\n")
    data_dir = tmp_path / "index"
    ingest([docs], data_dir, embeddings)
    graph = build_graph(chat_model=None, embeddings=embeddings)
    result = invoke(
        graph,
        {"messages": [HumanMessage("Which animal has black and white stripes?")]},
        context=Context(data_dir=str(data_dir)),
    )
    assert [c["source"] for c in result["citations"]] == ["guides/zebras.md"]
    assert str(tmp_path) not in result["messages"][-1].content
