"""The fault ledger counts a fault as survived only when its block raises nothing."""

from __future__ import annotations

import pytest

from tests.reliability import FaultLedger


def test_survived_only_without_exception_and_lost_is_summed():
    ledger = FaultLedger()
    with ledger.fault("llm", "429", times=3):
        pass
    with pytest.raises(AssertionError), ledger.fault("llm", "429"):
        raise AssertionError("route was wrong")
    with ledger.fault("ingest", "SIGKILL") as f:
        f.lost = 2
        f.cases = 5
    [ingest, llm] = ledger.rows()
    assert (llm.injected, llm.survived) == (4, 3)
    assert (ingest.lost, ingest.cases) == (2, 5)
    table = ledger.markdown()
    assert "| llm | 429 | 4 | 3 | 0 |" in table
    assert "| **total** | 2 kinds | 5 | 4 | 2 | 5 |" in table
