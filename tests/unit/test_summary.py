"""Summary requests: detection, the extractive summary, and the map-reduce packing."""

from __future__ import annotations

import pytest

from tools.text.intent import is_summary_request, summary_topic, wants_several
from tools.text.summary import extractive_summary, pack


@pytest.mark.parametrize(
    "question",
    [
        "Summarize the Tesla document",
        "Please summarise nikola_tesla.md",
        "Give me an overview of these files",
        "What is the summary of the oxygen article?",
        "TL;DR of README.md",
        "Can you sum up the Black Death page?",
        "테슬라 문서를 요약해 줘",
    ],
)
def test_summary_requests_are_recognised(question):
    assert is_summary_request(question)


@pytest.mark.parametrize(
    "question",
    ["When did Tesla die?", "What does the summary statistic mean?", "Who discovered oxygen?"],
)
def test_questions_are_not_summary_requests(question):
    assert not is_summary_request(question)


def test_the_topic_is_the_request_without_its_summarizing_words():
    assert summary_topic("Summarize the Tesla document") == "Tesla"
    assert summary_topic("What is the summary of nikola_tesla.md?") == "nikola_tesla.md"
    assert summary_topic("Summarize") == "Summarize"  # nothing else left: searched as asked
    assert wants_several("Give me an overview of these files")
    assert not wants_several("Summarize the Tesla document")


def _doc(source, n, text):
    return {"id": f"{source}#{n}", "source": source, "title": source, "score": 1.0,
            "content": text}  # fmt: skip


def test_an_extractive_summary_covers_every_source_in_reading_order(embeddings):
    docs = [
        _doc("a.md", 0, "Zebras live in the grasslands of Africa. They eat grass all day long."),
        _doc("a.md", 1, "Zebras have black and white stripes on their bodies. Ok."),
        _doc("b.md", 0, "Oxygen is a chemical element with the symbol O. It was found in 1774."),
    ]
    summary = extractive_summary(docs, embeddings, sentences=3)
    assert "[1]" in summary and "[3]" in summary  # both sources, each sentence cited
    assert "Ok" not in summary  # too short to be summary material
    assert summary.index("[1]") < summary.index("[3]")


def test_packing_bounds_the_groups_and_keeps_chunks_whole_and_in_order():
    groups = pack([400] * 20, budget=1000, groups=3)
    assert len(groups) == 3
    assert [i for g in groups for i in g] == list(range(20))
    assert pack([100, 100], budget=1000, groups=3) == [[0, 1]]
