"""The fault ledger reports what was observed: a fault can fail; one never checked is unverified."""

from __future__ import annotations

import pytest

from tests.reliability import FaultLedger, FaultNotSurvived


def test_a_fault_survives_only_when_every_observation_matches():
    ledger = FaultLedger()
    with ledger.fault("llm", "429", times=3) as f:
        f.observe("route", "retrieve", expected="retrieve")
    [row] = ledger.rows()
    assert (row.injected, row.survived, row.failed, row.unverified) == (3, 3, 0, 0)
    assert row.outcome == "survived"


def test_a_broken_build_shows_a_row_not_survived_and_the_test_fails():
    # What a deliberately broken build does: the user sees the duplicate rows.
    ledger = FaultLedger()
    with pytest.raises(FaultNotSurvived, match="duplicate rows: saw 15246, expected 0"):
        with ledger.fault("ingest", "two concurrent ingests") as f:
            f.observe("exit code", 0, expected=0)
            f.observe("duplicate rows", 15246, expected=0)
    [row] = ledger.rows()
    assert (row.injected, row.survived, row.failed) == (1, 0, 1)
    assert row.outcome == "NOT SURVIVED"
    table = ledger.markdown()
    assert "| ingest | two concurrent ingests | 1 | 0 | 1 | 0 | 0 |  | NOT SURVIVED |" in table
    assert "duplicate rows: 15246 (expected 0)" in table  # the difference is shown first


def test_a_block_that_observes_nothing_is_unverified_not_survived():
    ledger = FaultLedger()
    with ledger.fault("http", "slow client"):
        pass  # finished, but nothing was checked
    [row] = ledger.rows()
    assert (row.survived, row.unverified, row.outcome) == (0, 1, "unverified")
    assert "| **total** | 1 kinds | 1 | 0 | 0 | 1 | 0 | 0 | | |" in ledger.markdown()


def test_lost_data_or_an_error_is_not_survived():
    ledger = FaultLedger()
    with pytest.raises(FaultNotSurvived, match="data lost: saw 2"):
        with ledger.fault("ingest", "SIGKILL") as f:
            f.observe("exit code", 0, expected=0)
            f.lost = 2
            f.cases = 5
    with pytest.raises(RuntimeError), ledger.fault("index", "truncated") as f:
        raise RuntimeError("boom")
    index, ingest = ledger.rows()
    assert (ingest.lost, ingest.cases, ingest.outcome) == (2, 5, "NOT SURVIVED")
    assert index.outcome == "NOT SURVIVED"
    assert index.observations[0].what == "error raised"


def test_one_failed_injection_marks_the_whole_row():
    ledger = FaultLedger()
    for seen in ("ok", "ok", "traceback"):
        try:
            with ledger.fault("ingest", "disk full") as f:
                f.observe("message", seen, expected="ok")
        except FaultNotSurvived:
            pass
    [row] = ledger.rows()
    assert (row.injected, row.survived, row.failed, row.outcome) == (3, 2, 1, "NOT SURVIVED")
    assert ledger.as_json()[0]["outcome"] == "NOT SURVIVED"
