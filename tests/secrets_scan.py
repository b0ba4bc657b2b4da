"""Pytest plugin: fail the run if a canary secret shows up in any output the tests produce.

Tests that handle secrets use the canary values below (``canary_env`` sets them as the
provider keys). After each test phase, its captured stdout, stderr and log records and its
failure text are searched for every canary; at the end of the session so are all ``*.log``
files under the run's temporary directory (``arag serve`` and ``langgraph dev`` write their
logs there). Any hit fails the session with the test and place where the secret appeared.
Output that pytest does not capture (``-s``) cannot be checked; the summary says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CANARIES = {
    "OPENAI_API_KEY": "sk-test-canary-openai-7f3a9c1e5b",
    "GROQ_API_KEY": "gsk_test_canary_groq_4d8e2b6a0c",
    "ARAG_API_KEY": "sk-test-canary-compatible-91c2e7",
    "TAVILY_API_KEY": "tvly-test-canary-5e1f0a9d3c",
    "LANGSMITH_API_KEY": "lsv2_pt_test_canary_8b7c6d5e4f",
    "server_key": "sk-test-canary-server-key-2a4c6e8f0b",
    "postgres_password": "pw-test-canary-6d9b3f1a",
}
"""Secret values that must never be printed, logged or returned."""

_LEAKS: list[str] = []


def find_canaries(text: str) -> list[str]:
    """Names of the canaries that occur in ``text``."""
    return [name for name, value in CANARIES.items() if value in text]


@pytest.fixture
def canary_env(monkeypatch) -> dict[str, str]:
    """The provider keys (OpenAI, Groq, compatible, Tavily, LangSmith) set to canaries."""
    for name in ("OPENAI_API_KEY", "GROQ_API_KEY", "ARAG_API_KEY", "TAVILY_API_KEY"):
        monkeypatch.setenv(name, CANARIES[name])
    monkeypatch.setenv("LANGSMITH_API_KEY", CANARIES["LANGSMITH_API_KEY"])
    return CANARIES


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Check one test phase's captured output and failure text."""
    places = [(title, text) for title, text in report.sections]
    if report.longrepr is not None:
        places.append(("failure report", str(report.longrepr)))
    for title, text in places:
        for name in find_canaries(text):
            _LEAKS.append(f"{report.nodeid} ({report.when}): {name} in {title}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Scan the run's log files, then fail the session if any canary leaked."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        try:
            base = factory.getbasetemp()
        except (OSError, ValueError):
            base = None
        for log in sorted(Path(base).rglob("*.log")) if base else []:
            try:
                text = log.read_text(errors="replace")
            except OSError:
                continue
            _LEAKS.extend(f"log file {log}: {name}" for name in find_canaries(text))
    if _LEAKS:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: D103
    if _LEAKS:
        terminalreporter.write_sep("=", "SECRET LEAKS", red=True)
        for leak in _LEAKS:
            terminalreporter.write_line(leak)
    elif config.getoption("capture") == "no":
        terminalreporter.write_line("secret scan: output not captured (-s), only log files checked")
