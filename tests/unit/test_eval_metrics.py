"""Evaluation metrics (SQuAD EM/F1, recall, MRR) and the dataset loaders."""

from __future__ import annotations

import json

import pytest

from arag.evaluation.datasets import DatasetError, load_dataset
from arag.evaluation.evaluators import (
    answer_metrics,
    exact_match,
    recall_at_k,
    reciprocal_rank,
    retrieval_metrics,
    token_f1,
)


def test_squad_metrics_normalise_articles_punctuation_and_citations():
    assert exact_match("The Denver Broncos [1].", ["Denver Broncos"]) == 1.0
    assert exact_match("Broncos", ["Denver Broncos"]) == 0.0
    assert token_f1("Broncos", ["Denver Broncos"]) == pytest.approx(2 / 3)
    assert token_f1("Carolina Panthers", ["Denver Broncos", "Carolina Panthers"]) == 1.0
    assert token_f1("nothing here", ["Denver Broncos"]) == 0.0


def test_answer_found_scores_a_sentence_containing_the_reference():
    scores = answer_metrics(
        {"answer": "Tesla died on 7 January 1943 [1]."}, {"answers": ["7 January 1943"]}
    )["results"]
    by_key = {s["key"]: s["score"] for s in scores}
    assert by_key["answer_found"] == 1.0 and by_key["exact_match"] == 0.0


def test_recall_and_mrr_against_gold_passages():
    retrieved = ["a", "b", "c", "d"]
    assert recall_at_k(retrieved, ["c"], 1) == 0.0
    assert recall_at_k(retrieved, ["c"], 3) == 1.0
    assert recall_at_k(retrieved, ["a", "z"], 5) == 0.5  # multi-hop: half the gold found
    assert reciprocal_rank(retrieved, ["c"]) == pytest.approx(1 / 3)
    assert reciprocal_rank(retrieved, ["z"]) == 0.0
    keys = {
        r["key"]
        for r in retrieval_metrics({"retrieved_sources": retrieved, "k": 4}, {"gold": ["b"]})[
            "results"
        ]
    }
    assert keys == {"recall_at_1", "recall_at_4", "mrr"}


def test_loaders_read_each_format(tmp_path):
    squad = tmp_path / "mini.json"
    squad.write_text(
        json.dumps(
            {
                "data": [
                    {
                        "title": "Oxygen",
                        "paragraphs": [
                            {
                                "context": "Oxygen was discovered by Scheele.",
                                "qas": [
                                    {
                                        "id": "q1",
                                        "question": "Who discovered oxygen?",
                                        "answers": [{"text": "Scheele", "answer_start": 25}],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        )
    )
    ds = load_dataset(squad)
    assert ds.format == "squad" and ds.items[0].gold == ["Oxygen#0"]
    assert ds.passages[0].text.startswith("Oxygen was")

    hotpot = tmp_path / "hp.jsonl"
    hotpot.write_text(
        json.dumps(
            {
                "_id": "h1",
                "question": "Q?",
                "answer": "A",
                "supporting_facts": [["T1", 0], ["T2", 0]],
                "context": [["T1", ["One."]], ["T2", ["Two."]], ["T3", ["Three."]]],
            }
        )
        + "\n"
    )
    ds = load_dataset(hotpot)
    assert ds.format == "hotpotqa" and ds.items[0].gold == ["T1", "T2"] and len(ds.passages) == 3

    bele = tmp_path / "b.jsonl"
    bele.write_text(
        json.dumps(
            {
                "id": "x#1",
                "link": "https://e.org/wiki/Accordion",
                "en_passage": "Use the bellows for volume.",
                "en_question": "What gives volume?",
                "ko_question": "무엇이 볼륨을 주나요?",
                "en_choices": ["keys", "bellows"],
                "correct_answer_num": 2,
            }
        )
        + "\n"
    )
    ds = load_dataset(bele)
    item = ds.items[0]
    assert ds.format == "belebele" and item.answers == ["bellows"]
    assert item.question.startswith("무엇") and item.reference_question == "What gives volume?"

    plain = tmp_path / "p.jsonl"
    plain.write_text('{"question": "Q1?", "answers": ["a"]}\n{"question": "Q2?", "answer": "b"}\n')
    ds = load_dataset(plain)
    assert [i.answers for i in ds.items] == [["a"], ["b"]] and ds.passages == []


def test_bad_dataset_files_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?", "answers": []}\n{not json\n')
    with pytest.raises(DatasetError, match="bad.jsonl:2: not valid JSON"):
        load_dataset(bad)
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "missing.json")
    missing = tmp_path / "m.jsonl"
    missing.write_text('{"answers": ["a"]}\n')
    with pytest.raises(DatasetError, match="missing field"):
        load_dataset(missing, "jsonl")


def test_cited_or_flagged_counts_only_what_a_user_can_trust_or_is_warned_about():
    from arag.evaluation.evaluators import cited_or_flagged

    hallucination = {"route": "retrieval", "grounded": False, "citations": 0, "flags": []}
    assert cited_or_flagged(hallucination) is False
    assert cited_or_flagged({**hallucination, "grounded": True}) is False  # grounded, uncited
    assert cited_or_flagged({"route": "retrieval", "grounded": True, "citations": 1}) is True
    assert cited_or_flagged({"route": "insufficient", "flags": ["insufficient"]}) is True
    assert cited_or_flagged({**hallucination, "flags": ["not_grounded"]}) is True
    assert cited_or_flagged({"route": "closed_book", "flags": []}) is False
    assert cited_or_flagged({"route": "closed_book", "flags": ["unverified_closed_book"]}) is True
