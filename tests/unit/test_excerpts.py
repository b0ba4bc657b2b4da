"""Excerpts: each LLM step reads the sentences it needs, not the whole chunk."""

from __future__ import annotations

from nodes.common import number_documents
from tools.text.excerpts import GAP, cited_excerpts, excerpt, question_excerpts

TESLA = (
    "Nikola Tesla > Later years\n"
    "Tesla moved to New York in 1884. He worked for Edison for a short time. "
    "He founded his own laboratory. He was famous for his experiments with alternating current. "
    "Tesla lived in the Hotel New Yorker in his last decade. "
    "Tesla died on 7 January 1943 in room 3327 of the hotel. "
    "His funeral was held at the Cathedral of St. John the Divine."
)


def doc(n: int, content: str, title: str = "Nikola Tesla") -> dict:
    return {"id": f"t#{n}", "content": content, "source": "t.md", "title": title, "score": 0.7}


def test_short_text_and_zero_budget_are_unchanged():
    assert excerpt("Tesla died in 1943.", "when did tesla die", 500) == "Tesla died in 1943."
    assert excerpt(TESLA, "when did tesla die", 0) == TESLA


def test_excerpt_keeps_the_heading_and_the_matching_sentence_within_budget():
    cut = excerpt(TESLA, "What year did Tesla die?", 160)
    assert len(cut) <= 160
    assert cut.startswith("Nikola Tesla > Later years")
    assert "died on 7 January 1943" in cut


def test_without_fill_only_matching_sentences_are_kept():
    cut = excerpt(TESLA, "When did Tesla die?", 300, fill=False)
    assert "died on 7 January 1943" in cut
    assert "Edison" not in cut and "funeral" not in cut
    filled = excerpt(TESLA, "When did Tesla die?", 300)
    assert "Edison" in filled  # with fill, the budget is used for context


def test_left_out_text_is_marked_and_order_is_kept():
    cut = excerpt(TESLA, "Tesla Edison funeral cathedral", 260)
    assert GAP.strip() in cut
    assert cut.index("Edison") < cut.index("Cathedral")


def test_excerpt_never_exceeds_budget_even_for_one_long_sentence():
    long = "Heading\n" + "word " * 400 + "tesla died in 1943."
    cut = excerpt(long, "tesla 1943", 120)
    assert 0 < len(cut) <= 120


def test_question_excerpts_cut_every_document():
    docs = [doc(1, TESLA), doc(2, TESLA.replace("1943", "nineteen forty-three"))]
    shown = question_excerpts(docs, "When did Tesla die?", 150)
    assert all(len(d["content"]) <= 150 for d in shown)
    assert [d["id"] for d in shown] == ["t#1", "t#2"]
    assert docs[0]["content"] == TESLA  # the state's documents are not modified


def test_checker_sees_only_cited_documents_under_their_own_numbers():
    docs = [doc(1, "Edison lived in New Jersey."), doc(2, TESLA), doc(3, "Unrelated text.")]
    evidence = cited_excerpts(docs, "When did Tesla die?", "Tesla died in 1943 [2].", 200)
    assert [n for n, _ in evidence] == [2]
    assert "1943" in evidence[0][1]["content"]
    prompt = number_documents(evidence)
    assert '<document n="2"' in prompt and '<document n="1"' not in prompt


def test_uncited_answer_is_checked_against_every_document():
    docs = [doc(1, "Edison lived in New Jersey."), doc(2, TESLA)]
    evidence = cited_excerpts(docs, "When did Tesla die?", "Tesla died in 1943.", 200)
    assert [n for n, _ in evidence] == [1, 2]
