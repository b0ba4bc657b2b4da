"""The fault ledger: each injected fault records what was observed, compared with what should be.

A test wraps each injected fault in ``fault_ledger.fault(area, name)`` and, inside the block,
records what a user or operator would notice with ``f.observe(what, observed, expected=...)``
(the exit code, the message, the rows left in the index, the answer's citations). The fault's
outcome then comes from those comparisons, not from the block finishing:

- **survived**: at least one observation, all equal to what was expected, and no data lost;
- **not survived**: an observation differed, data was lost (``f.lost = n``), or the block
  raised. The ledger records the row *and* the block raises ``FaultNotSurvived`` naming each
  difference, so the test fails as well;
- **unverified**: the block finished without observing anything. It is not counted as
  survived: finishing proves only that the code under test did not raise.

At the end of a run the ledger prints one table, and ``--reliability-report PATH`` also writes
it as JSON and markdown (``make reliability`` does). Fuzz tests record their case counts with
``f.cases = n``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest


class FaultNotSurvived(AssertionError):
    """An observation inside ``fault_ledger.fault(...)`` differed from what was expected."""


@dataclass
class Observation:
    """One thing a test saw after injecting a fault, next to what it should have seen."""

    what: str
    observed: str
    expected: str
    ok: bool


@dataclass
class Fault:
    """One kind of fault, as injected by one or more tests."""

    area: str
    """What was attacked: llm, structured, index, ingest, checkpointer, input, http, ..."""
    name: str
    """The fault itself, e.g. "429 with Retry-After"."""
    injected: int = 0
    """How many times it was injected."""
    survived: int = 0
    """Injections whose every observation matched (at least one observation, no data lost)."""
    failed: int = 0
    """Injections with an observation that differed, data lost, or an error raised."""
    unverified: int = 0
    """Injections whose block observed nothing: neither survived nor failed."""
    lost: int = 0
    """Items of stored data lost (chunks, turns); must stay 0."""
    cases: int = 0
    """Generated cases, for fuzzing (hypothesis, schemathesis)."""
    observations: list[Observation] = field(default_factory=list)
    """What was observed, last injection first kept (differences always kept)."""

    @property
    def outcome(self) -> str:
        """``survived``, ``NOT SURVIVED`` or ``unverified`` for the row as a whole."""
        if self.failed or self.lost:
            return "NOT SURVIVED"
        if self.unverified or not self.survived:
            return "unverified"
        return "survived"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class _Injection:
    """Handle inside ``fault_ledger.fault(...)``: ``observe(...)``; set ``lost``/``cases``."""

    def __init__(self) -> None:
        self.lost = 0
        self.cases = 0
        self.observations: list[Observation] = []

    def observe(self, what: str, observed: Any, *, expected: Any) -> bool:
        """Record that ``what`` was ``observed`` where ``expected`` should be; whether equal.

        Does not raise: every observation of the block is recorded, and the block raises
        :class:`FaultNotSurvived` at its end if any differed.
        """
        ok = observed == expected
        self.observations.append(Observation(what, _show(observed), _show(expected), ok))
        return ok

    def observe_run(self, what: str, check: Callable[[], Any]) -> None:
        """Run ``check`` (a hypothesis property, say) and observe whether it raised.

        A counterexample is recorded as the error's first line (hypothesis has printed the
        falsifying example by then) and the block then fails.
        """
        try:
            check()
        except AssertionError as exc:  # hypothesis re-raises the property's failure
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.observe(what, f"{type(exc).__name__}: {first}", expected="no counterexample")
        else:
            self.observe(what, "no counterexample", expected="no counterexample")


class FaultLedger:
    """Every fault injected during the run, keyed by (area, name)."""

    def __init__(self) -> None:
        self.faults: dict[tuple[str, str], Fault] = {}

    @contextmanager
    def fault(self, area: str, name: str, *, times: int = 1) -> Iterator[_Injection]:
        """Count ``times`` injections of ``name``; their outcome comes from the observations."""
        entry = self.faults.setdefault((area, name), Fault(area, name))
        entry.injected += times
        handle = _Injection()
        try:
            yield handle
        except pytest.skip.Exception:
            entry.injected -= times  # skipped: nothing was injected
            raise
        except BaseException as exc:
            handle.observations.append(
                Observation("error raised", _show(exc)[:120], "no error", ok=False)
            )
            self._record(entry, handle, times)
            raise
        self._record(entry, handle, times)
        wrong = [o for o in handle.observations if not o.ok]
        if handle.lost:
            wrong.append(Observation("data lost", str(handle.lost), "0", ok=False))
        if wrong:
            raise FaultNotSurvived(
                f"{area}: {name}: "
                + "; ".join(f"{o.what}: saw {o.observed}, expected {o.expected}" for o in wrong)
            )

    @staticmethod
    def _record(entry: Fault, handle: _Injection, times: int) -> None:
        entry.lost += handle.lost
        entry.cases += handle.cases
        bad = handle.lost or any(not o.ok for o in handle.observations)
        if bad:
            entry.failed += times
        elif handle.observations:
            entry.survived += times
        else:
            entry.unverified += times
        # Differences first, so the report shows why a row did not survive.
        entry.observations = sorted(
            [*handle.observations, *entry.observations], key=lambda o: o.ok
        )[:12]

    def rows(self) -> list[Fault]:
        """Faults sorted by area then name."""
        return [self.faults[k] for k in sorted(self.faults)]

    def markdown(self) -> str:
        """The table ``make reliability`` prints."""
        rows = self.rows()
        lines = [
            "| area | fault | injected | survived | not survived | unverified | data lost "
            "| fuzz cases | outcome | observed (first difference, else first check) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for f in rows:
            first = f.observations[0] if f.observations else None
            seen = f"{first.what}: {first.observed} (expected {first.expected})" if first else "-"
            seen = seen.replace("|", "\\|")
            lines.append(
                f"| {f.area} | {f.name} | {f.injected} | {f.survived} | {f.failed} | "
                f"{f.unverified} | {f.lost} | {f.cases or ''} | {f.outcome} | {seen} |"
            )
        totals = [
            sum(getattr(f, n) for f in rows)
            for n in ("injected", "survived", "failed", "unverified", "lost", "cases")
        ]
        lines.append(
            f"| **total** | {len(rows)} kinds | " + " | ".join(map(str, totals)) + " | | |"
        )
        return "\n".join(lines)

    def as_json(self) -> list[dict]:
        """The rows with their outcome and observations, for ``PATH.json``."""
        return [asdict(f) | {"outcome": f.outcome} for f in self.rows()]


_LEDGER = FaultLedger()


@pytest.fixture
def fault_ledger() -> FaultLedger:
    """The run's fault ledger (one per test session)."""
    return _LEDGER


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--reliability-report PATH``: also write the ledger as PATH.json and PATH.md."""
    parser.addoption(
        "--reliability-report",
        default=None,
        help="write the fault ledger to PATH.json and PATH.md at the end of the run",
    )


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: D103
    if not _LEDGER.faults:
        return
    table = _LEDGER.markdown()
    terminalreporter.write_sep("=", "fault ledger")
    terminalreporter.write_line(table)
    target = config.getoption("--reliability-report")
    if target:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".json").write_text(
            json.dumps(_LEDGER.as_json(), indent=2) + "\n", encoding="utf-8"
        )
        path.with_suffix(".md").write_text(
            "# Reliability: faults injected and what was observed\n\n"
            "Generated by `make reliability`. A row is *survived* only when every observation "
            "its test recorded matched the expected outcome; a row with no observation is "
            "*unverified*.\n\n" + table + "\n",
            encoding="utf-8",
        )
