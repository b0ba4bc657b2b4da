"""Retrieval benchmark: dataset sniffing/loading, metrics and target verdicts (no index built)."""

from __future__ import annotations

import json

import pytest

from arag.evaluation.datasets import DatasetFormatError, load_datasets, select
from arag.evaluation.metrics import dedupe, latency_ms, score_rankings
from benchmarks.retrieval.__main__ import evaluate_targets, main, parse_sizes

SQUAD = {
    "data": [
        {
            "title": "Super_Bowl_50",
            "paragraphs": [
                {
                    "context": "Super Bowl 50 was played in Santa Clara.",
                    "qas": [{"question": "Where was Super Bowl 50 played?", "answers": []}],
                },
                {"context": "The Broncos won.", "qas": []},
            ],
        }
    ]
}

BELEBELE_ALIGNED = [
    {
        "link": "https://example.org/a",
        "en_passage": "Passage A.",
        "ko_passage": "지문 A.",
        "en_question": "What is in passage A?",
        "ko_question": "지문 A에는 무엇이 있습니까?",
    },
    {
        "link": "https://example.org/a",
        "en_passage": "Passage A.",
        "ko_passage": "지문 A.",
        "en_question": "Second question on A?",
        "ko_question": "A에 대한 두 번째 질문?",
    },
    {
        "link": "https://example.org/b",
        "en_passage": "Passage B.",
        "ko_passage": "지문 B.",
        "en_question": "And B?",
        "ko_question": "B는?",
    },
]

HOTPOT = [
    {
        "_id": "1",
        "question": "Which city hosts the team whose coach is X?",
        "supporting_facts": [["Team", 0], ["City", 1], ["Team", 1]],
        "context": [["Team", ["The team ", "is coached by X."]], ["City", ["A city."]]],
    },
    {
        "_id": "2",
        "question": "Another?",
        "supporting_facts": [["Other", 0]],
        "context": [["Team", ["Duplicate title, ignored."]], ["Other", ["Other text."]]],
    },
]


def _jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


def test_squad_is_sniffed_from_content_not_extension(tmp_path):
    path = tmp_path / "whatever.txt"
    path.write_text(json.dumps(SQUAD))
    (ds,) = load_datasets(path)
    assert ds.fmt == "squad"
    assert [p.pid for p in ds.paragraphs] == ["Super_Bowl_50#0", "Super_Bowl_50#1"]
    assert ds.paragraphs[0].title == "Super Bowl 50"
    assert [(q.text, q.gold) for q in ds.questions] == [
        ("Where was Super Bowl 50 played?", ("Super_Bowl_50#0",))
    ]


def test_belebele_aligned_gives_one_dataset_per_question_language(tmp_path):
    path = _jsonl(tmp_path / "bele.jsonl", BELEBELE_ALIGNED)
    en, ko = load_datasets(path)
    assert en.name.endswith("-en") and ko.name.endswith("-ko")
    # Passages are deduplicated by link; every question points at its passage.
    assert [p.pid for p in en.paragraphs] == ["https://example.org/a", "https://example.org/b"]
    assert [q.gold[0] for q in en.questions] == [
        "https://example.org/a",
        "https://example.org/a",
        "https://example.org/b",
    ]
    assert ko.questions[2].text == "B는?"
    assert "untranslated" in ko.note
    assert select(path, "ko").name == ko.name
    with pytest.raises(DatasetFormatError, match="no 'fr' questions"):
        select(path, "fr")


def test_raw_belebele_uses_flores_passage_and_question(tmp_path):
    rows = [{"link": "l1", "flores_passage": "P.", "question": "Q?", "mc_answer1": "x"}]
    (ds,) = load_datasets(_jsonl(tmp_path / "eng_Latn.jsonl", rows))
    assert ds.fmt == "belebele"
    assert ds.questions[0].gold == ("l1",)


@pytest.mark.parametrize("as_array", [False, True])
def test_hotpot_pools_context_by_title_and_keeps_all_gold(tmp_path, as_array):
    path = tmp_path / "hp.data"
    if as_array:
        path.write_text(json.dumps(HOTPOT))
    else:
        _jsonl(path, HOTPOT)
    (ds,) = load_datasets(path)
    assert ds.fmt == "hotpotqa" and ds.multi_hop
    assert [p.pid for p in ds.paragraphs] == ["Team", "City", "Other"]
    assert ds.paragraphs[0].text == "The team is coached by X."  # first occurrence wins
    assert ds.questions[0].gold == ("Team", "City")


def test_hotpot_without_gold_in_context_is_refused(tmp_path):
    rows = [{**HOTPOT[1], "supporting_facts": [["Missing", 0]]}]
    with pytest.raises(DatasetFormatError, match="not in any record's context"):
        load_datasets(_jsonl(tmp_path / "hp.jsonl", rows))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"version": 1, "items": []}', "Unknown dataset format"),
        ('{"text": "a"}\n{"text": "b"}\n', "Fields seen: \\['text'\\]"),
        ('{"text": "a"}\nnot json\n', "line 2"),
        ("", "is empty"),
    ],
)
def test_unknown_or_malformed_files_get_a_clear_error(tmp_path, content, message):
    path = tmp_path / "data.json"
    path.write_text(content)
    with pytest.raises(DatasetFormatError, match=message):
        load_datasets(path)


def test_cli_reports_an_unknown_format_and_exits_2(tmp_path, capsys):
    path = tmp_path / "data.jsonl"
    path.write_text('{"foo": 1}\n')
    assert main(["--dataset", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Unknown dataset format" in err and "SQuAD" in err
    assert main(["--dataset", str(tmp_path / "missing.json")]) == 2
    assert "not found" in capsys.readouterr().err


def test_metrics_on_hand_made_rankings():
    rankings = [
        ["g", "x", "y"],  # gold first
        ["x", "y", "g"],  # gold third
        ["a", "b", "c", "d", "e", "f", "g"],  # gold seventh: outside R@5, inside MRR@10
        ["a", "b"],  # miss
    ]
    golds = [["g"], ["g"], ["g"], ["g"]]
    m = score_rankings(rankings, golds)
    assert m["r1"] == pytest.approx(0.25)
    assert m["r5"] == pytest.approx(0.5)
    assert m["mrr10"] == pytest.approx((1 + 1 / 3 + 1 / 7) / 4)


def test_all_gold_needs_every_gold_paragraph_in_the_top_5():
    rankings = [["a", "b", "x"], ["a", "x", "y", "z", "w", "b"]]
    m = score_rankings(rankings, [["a", "b"], ["a", "b"]])
    assert m["r5"] == 1.0
    assert m["all_gold5"] == 0.5


def test_dedupe_counts_a_paragraph_once_and_latency_percentiles():
    assert dedupe(["p1", "p1", "p2", "p1", "p3"]) == ["p1", "p2", "p3"]
    lat = latency_ms([0.001] * 19 + [0.1])
    assert lat["p50_ms"] == pytest.approx(1.0)
    assert lat["p95_ms"] > 1.0


def test_scale_sizes_parse():
    assert parse_sizes("1M,10k,100k") == (10_000, 100_000, 1_000_000)
    assert parse_sizes("none") == ()
    with pytest.raises(Exception, match="not a size"):
        parse_sizes("lots")


def test_targets_pass_fail_and_not_measured():
    results = {
        "datasets": [
            {
                "name": "XQuAD-en",
                "seed": {"r1": 0.83, "r5": 0.95, "mrr10": 0.88},
                "ours": {"r1": 0.90, "r5": 0.96, "mrr10": 0.91},
            },
            {
                "name": "HotpotQA",
                "seed": {"r1": 0.5, "all_gold5": 0.64},
                "ours": {"r1": 0.6, "all_gold5": 0.60},
            },
        ],
        "scale": {
            "rows": [
                {
                    "size": 100_000,
                    "seed": {"p50_ms": 200.0},
                    "ours": {"p50_ms": 8.0},
                    "bm25s": {"p50_ms": 3.0},
                }
            ]
        },
    }
    verdicts = {t["name"]: t for t in evaluate_targets(results)}
    assert verdicts["XQuAD-en R@1 ≥ 0.88"]["pass"] is True
    assert verdicts["XQuAD-en MRR@10 ≥ 0.92"]["pass"] is False
    assert verdicts["Belebele-en R@1 ≥ 0.78"]["pass"] is None
    never_below = next(t for name, t in verdicts.items() if name.startswith("never below"))
    assert never_below["pass"] is False
    assert "HotpotQA all_gold5 0.600 < 0.640" in never_below["measured"]
    assert verdicts["p50 hybrid query ≤ 5 ms at 100k chunks"]["pass"] is False
    assert verdicts["p50 hybrid query ≤ 20 ms at 1M chunks"]["pass"] is None  # not run
    assert verdicts["≥ 20× faster than the seed stack at 100k (p50)"]["pass"] is True
    peer = verdicts["scale 100000: hybrid p50 ≤ 2× bm25s's BM25-only p50 (same run)"]
    assert peer["pass"] is False and peer["measured"].startswith("2.67×")
