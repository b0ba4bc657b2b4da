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


def test_a_pdf_cited_on_two_pages_is_one_source_naming_both_pages():
    from nodes.citations import cite_by_source
    from nodes.respond import footnotes

    def chunk(n, page, text):
        return {"id": f"/srv/guide.pdf#{n}", "content": text, "source": "/srv/guide.pdf",
                "title": "Guide", "score": 0.9, "display": "guide.pdf", "page": page}  # fmt: skip

    docs = [chunk(0, 1, "Zebras have stripes."), chunk(4, 3, "Zebras live in Africa.")]
    answer, citations = cite_by_source("Zebras have stripes [1] and live in Africa [2].", docs)
    assert answer == "Zebras have stripes [1] and live in Africa [1]."
    assert citations == [  # the id names the file as displayed, not the server's path
        {"n": 1, "id": "guide.pdf#0", "title": "Guide", "source": "guide.pdf", "pages": [1, 3]}
    ]
    assert "[1] Guide — guide.pdf, pp. 1, 3" in footnotes(citations)


def test_pdf_pages_are_documents_of_their_own(tmp_path):
    import io

    from pypdf import PdfReader, PdfWriter

    from tests.unit.test_loaders import make_pdf
    from tools.ingest.loaders import load_file

    writer = PdfWriter()
    for text in ("Zebras have stripes.", "", "Zebras live in Africa."):
        writer.append(PdfReader(io.BytesIO(make_pdf(text or " "))))
    path = tmp_path / "guide.pdf"
    with path.open("wb") as f:
        writer.write(f)
    docs = load_file(path)
    assert [(d.metadata["page"], d.page_content) for d in docs] == [
        (1, "Zebras have stripes."),
        (3, "Zebras live in Africa."),
    ]
    assert all(d.metadata["pages"] == 3 for d in docs)


def test_a_section_is_named_unless_it_is_just_the_title():
    from nodes.respond import footnotes

    base = {"n": 1, "id": "r#0", "title": "jq", "source": "README.md"}
    assert footnotes([{**base, "section": "jq > Install"}]).endswith("README.md, jq > Install")
    assert footnotes([{**base, "section": "jq"}]).endswith("— README.md")
