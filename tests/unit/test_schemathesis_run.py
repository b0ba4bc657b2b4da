"""The schemathesis run's counts come from its JSON run report, failures included."""

from __future__ import annotations

from benchmarks.schemathesis_run import (
    FuzzResult,
    failure_details,
    note_in_reliability,
    summarise,
    write,
)

REPORT = {
    "operations": {"total": 6, "selected": 6, "tested": 6, "errored": 0},
    "test_cases": {"generated": 1200, "with_failures": 3, "unique_failures": 2, "errored": 1},
    "failures": [
        {
            "code": "ST103",
            "title": "Undocumented status code",
            "count": 3,
            "operations": ["POST /v1/responses"],
        }
    ],
    "errors": [],
}


def test_counts_and_failures_come_from_the_report(tmp_path):
    counts = summarise(REPORT)
    assert counts == {
        "operations": 6,
        "cases": 1200,
        "passed": 1196,
        "failed": 3,
        "errors": 1,
        "failures": ["ST103 Undocumented status code (3): POST /v1/responses"],
    }
    result = FuzzResult("failed", schemathesis="4.32.5", **counts)
    assert result.line().startswith("schemathesis 4.32.5: failed: 1200 cases on 6 operations")
    write(result, tmp_path / "schemathesis")
    md = (tmp_path / "schemathesis.md").read_text()
    assert "- cases generated: 1200, passed: 1196, failed: 3" in md
    assert "ST103 Undocumented status code (3): POST /v1/responses" in md


def test_a_run_that_could_not_start_says_why():
    result = FuzzResult("not_run", reason="could not install schemathesis: no registry")
    assert result.line() == "schemathesis: not run (could not install schemathesis: no registry)"


def test_the_failure_section_of_the_output_is_kept():
    output = "\n".join(
        [
            "=== FAILURES ===",
            "___ POST /v1/responses ___",
            "- ST201 Schema-violating request accepted",
            "=== WARNINGS ===",
            "Missing test data",
            "=== SUMMARY ===",
        ]
    )
    details = failure_details(output)
    assert details == "___ POST /v1/responses ___\n- ST201 Schema-violating request accepted"
    assert failure_details("=== SUMMARY ===\nall passed") == ""


def test_the_counts_go_under_the_ledger_once(tmp_path):
    report = tmp_path / "reliability.md"
    report.write_text("# Reliability\n\n| ledger |\n")
    for cases in (10, 9259):
        note_in_reliability(FuzzResult("passed", "4.32.5", cases=cases, operations=6), report)
    text = report.read_text()
    assert text.startswith("# Reliability\n\n| ledger |\n\n## External fuzzing: schemathesis")
    assert text.count("## External fuzzing") == 1
    assert "passed: 9259 cases on 6 operations, 0 failed" in text
