"""Offline abstention: near misses are declined, CJK questions have their own thresholds."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from arag.evaluation.abstention import Observation, Quoted, fit, outcome
from arag.evaluation.datasets import SHARED_DATA
from graph.builder import build_graph
from graph.config import Context
from tests.fakes.static_index import StaticIndex
from tests.runs import invoke

SODIUM = (
    "sodium#0",
    "Sodium is a modern, easy-to-use software library for encryption, decryption, signatures "
    "and password hashing. Sodium supports a variety of compilers and operating systems, "
    "including Windows, iOS and Android.",
    0.8,
)
NEAR_MISS = "Which version of libsodium added AES-GCM support?"
ANSWERABLE = "Which operating systems does Sodium support?"
DECLINE = "I don't have enough information to answer that."


def _offline(index: StaticIndex, question: str, embeddings, **ctx) -> dict:
    graph = build_graph(chat_model=None, index=index, embeddings=embeddings)
    return invoke(graph, {"messages": [HumanMessage(question)]}, context=Context(**ctx))


def declined_because(result: dict) -> str:
    """Assert the offline answer was declined as a near miss; the reason its path gives."""
    assert result["route"] == "insufficient"
    assert result["messages"][-1].content.startswith(DECLINE)
    assert "answer_not_found" in result["flags"]
    assert result["citations"] == []
    return next(s for s in result["path"] if s["node"] == "generate_answer")["reason"]


def test_a_near_miss_is_declined_although_its_documents_match_strongly(embeddings):
    index = StaticIndex(hits={NEAR_MISS: [SODIUM]})
    result = _offline(index, NEAR_MISS, embeddings)
    assert "of the question's terms" in declined_because(result)


def test_the_same_documents_still_answer_what_they_do_say(embeddings):
    index = StaticIndex(hits={ANSWERABLE: [SODIUM]})
    result = _offline(index, ANSWERABLE, embeddings)
    assert result["route"] == "retrieval"
    assert "Windows" in result["answer"]
    assert [c["id"] for c in result["citations"]] == ["sodium#0"]


SOCAT = (
    "socat#0",
    "socat is a relay for bidirectional data transfer between two independent data channels. "
    "For socat the old yodl version 1.31 is used, as in suse/i586/yodl-1.31.18-1142.i586.rpm.",
    0.8,
)
WHEN_NEAR_MISS = "In which year was the first version of socat released?"


def test_a_when_question_is_declined_when_no_quoted_sentence_gives_a_date(embeddings):
    # The quote matches the question's terms (socat, version), and a file name's "1142" is
    # not a year: the documents do not say when.
    index = StaticIndex(hits={WHEN_NEAR_MISS: [SOCAT]})
    result = _offline(index, WHEN_NEAR_MISS, embeddings)
    assert declined_because(result).startswith("the question asks for a date")


def test_the_same_when_question_is_answered_once_the_document_dates_it(embeddings):
    dated = (SOCAT[0], SOCAT[1] + " The first version of socat was released in 2001.", 0.8)
    result = _offline(StaticIndex(hits={WHEN_NEAR_MISS: [dated]}), WHEN_NEAR_MISS, embeddings)
    assert result["route"] == "retrieval"
    assert "2001" in result["answer"]


def test_answer_coverage_zero_turns_the_check_off(embeddings):
    index = StaticIndex(hits={NEAR_MISS: [SODIUM]})
    result = _offline(index, NEAR_MISS, embeddings, answer_coverage=0.0)
    assert result["route"] == "retrieval"


KOREAN_DOC = (
    "ko#0",
    "아코디언은 풀무에 힘을 더 주면 소리가 커집니다. 건반을 세게 칠 필요는 없습니다.",
    0.4,
)
KOREAN_Q = "아코디언 소리를 크게 하려면 풀무를 어떻게 해야 하나요?"


def test_a_korean_question_scored_on_character_pairs_uses_its_own_floor(embeddings):
    # 0.4 is below the English relevance threshold (0.45): it would be "insufficient"; on
    # character pairs alone it is a good match (Belebele-ko fit: 0.35).
    index = StaticIndex(hits={KOREAN_Q: [KOREAN_DOC]})
    index.set_language("ko")
    result = _offline(index, KOREAN_Q, embeddings)
    assert result["route"] == "retrieval"
    assert "풀무" in result["answer"] and result["citations"][0]["id"] == "ko#0"
    english_floor = _offline(
        index, KOREAN_Q, embeddings, probe_weak_cjk=0.35, relevance_threshold_cjk=0.45
    )
    assert english_floor["route"] == "insufficient"


def test_context_picks_thresholds_by_the_script_of_the_query():
    ctx = Context()
    assert ctx.score_thresholds("What is Sodium?") == (ctx.probe_weak, ctx.relevance_threshold)
    assert ctx.score_thresholds(KOREAN_Q) == (ctx.probe_weak_cjk, ctx.relevance_threshold_cjk)
    assert ctx.answer_coverage_for(KOREAN_Q) == ctx.answer_coverage_cjk


def _obs(kind: str, top: float, coverage: float, right: bool, part: str = "fit") -> Observation:
    # Above its top score a floor finds nothing to quote.
    quoted = {f: Quoted(coverage, right) if top >= f else None for f in (0.1, 0.3)}
    return Observation(f"{kind}{top}{coverage}", kind, part, quoted)


def test_the_fit_separates_near_misses_by_coverage_and_reports_each_share():
    observations = [
        _obs("answerable", 0.8, 0.9, True),
        _obs("answerable", 0.7, 0.5, True),
        _obs("near_miss", 0.8, 0.2, False),
        _obs("near_miss", 0.2, 0.9, False),  # declined by the floor
    ]
    floor, coverage, balanced = fit(
        {"s": observations}, floors=(0.1, 0.3), coverages=(0.0, 0.3, 0.6)
    )
    assert (floor, coverage, balanced) == (0.3, 0.3, 1.0)
    # Within the tie tolerance the highest coverage wins: 0.6 is as good here, so it is taken.
    assert fit({"s": observations}, floors=(0.3,), coverages=(0.3, 0.6), tie=0.6)[1] == 0.6
    result = outcome(observations, 0.3, 0.0)
    assert (result.answerable_right, result.near_miss_declined) == (1.0, 0.5)


def test_an_embedding_model_without_a_fitted_ramp_is_flagged_on_every_answer(embeddings):
    from tools.index.base import IndexMeta

    index = StaticIndex(hits={ANSWERABLE: [SODIUM]}, meta=IndexMeta("other:8", 8, "en", "static"))
    result = _offline(index, ANSWERABLE, embeddings)
    assert result["route"] == "retrieval"
    assert "uncalibrated_embeddings" in result["flags"]
    probe = next(s for s in result["path"] if s["node"] == "probe_corpus")
    assert "no score calibration fitted for other:8" in probe["reason"]
    calibrated = _offline(StaticIndex(hits={ANSWERABLE: [SODIUM]}), ANSWERABLE, embeddings)
    assert "uncalibrated_embeddings" not in calibrated["flags"]
    assert "no fitted score calibration" in result["messages"][-1].content


@pytest.mark.skipif(
    not (SHARED_DATA / "xquad").exists() or not (SHARED_DATA / "belebele").exists(),
    reason=f"the shared XQuAD and Belebele data are not in {SHARED_DATA} (../shared/data)",
)
def test_near_miss_splits_leave_the_answering_passage_out_of_the_corpus():
    from arag.evaluation.metrics import normalize_answer
    from arag.evaluation.splits import belebele_split, xquad_split
    from tools.index.scoring import spaceless_share

    xquad = xquad_split()
    corpus_ids = {p.id for p in xquad.passages}
    corpus = " " + " ".join(normalize_answer(p.text) for p in xquad.passages) + " "
    near = [i for i in xquad.items if xquad.kinds[i.id] == "near_miss"]
    assert near and all(i.gold[0] not in corpus_ids for i in near)
    assert not any(f" {normalize_answer(a)} " in corpus for i in near for a in i.answers)
    # Same article: every near miss's article still has paragraphs in the corpus.
    articles = {p.id.rsplit("#", 1)[0] for p in xquad.passages}
    assert all(i.gold[0].rsplit("#", 1)[0] in articles for i in near)
    assert {xquad.parts[i.id] for i in xquad.items} == {"fit", "held"}

    korean = belebele_split("ko")
    assert min(spaceless_share(p.text) for p in korean.passages) > 0.5  # Korean passages
    gold_in = {p.id for p in korean.passages}
    assert all((korean.kinds[i.id] == "answerable") == (i.gold[0] in gold_in) for i in korean.items)


def test_the_document_retrieval_ranks_first_is_quoted_below_the_best_score(embeddings):
    # Fusion ranked ed's README first on BM25 strength; coreutils' README scores higher
    # calibrated. Both reach the threshold: ed's must not be cut as "far below the best".
    question = "What kind of program is GNU ed?"
    hits = [
        ("ed#0", "GNU ed is a line-oriented text editor. It is used to create files.", 0.53),
        ("coreutils#0", "These are the GNU core utilities. These programs conform to POSIX.", 0.73),
    ]
    result = _offline(StaticIndex(hits={question: hits}), question, embeddings)
    assert result["route"] == "retrieval"
    assert "line-oriented text editor" in result["answer"]
    assert "ed#0" in [c["id"] for c in result["citations"]]


HTTPLIB2 = (
    "httplib2#0",
    "httplib2 is a comprehensive HTTP client library. httplib2.py supports many features left "
    "out of other HTTP libraries, such as caching and keep-alive.",
    0.8,
)
HTTP2 = "Does httplib2 support HTTP/2?"


def test_a_quote_that_never_mentions_the_number_the_question_names_is_declined(embeddings):
    result = _offline(StaticIndex(hits={HTTP2: [HTTPLIB2]}), HTTP2, embeddings)
    reason = declined_because(result)
    assert reason.startswith("the question names 2; no quoted sentence mentions it")


def test_the_same_question_is_answered_by_a_document_that_speaks_of_it(embeddings):
    doc = (HTTPLIB2[0], HTTPLIB2[1] + " httplib2 does not support HTTP/2 yet.", 0.8)
    result = _offline(StaticIndex(hits={HTTP2: [doc]}), HTTP2, embeddings)
    assert result["route"] == "retrieval"
    assert "does not support HTTP/2" in result["answer"]
