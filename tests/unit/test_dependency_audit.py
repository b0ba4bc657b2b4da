"""The dependency audit never reports a pass for packages pip-audit could not look up."""

from __future__ import annotations

import pytest

from benchmarks.dependency_audit import classify

pytestmark = pytest.mark.reliability

SKIP = "Dependency not found on PyPI and could not be audited: {} (1.0)"


def dep(name, vulns=None, skipped=False):
    if skipped:
        return {"name": name, "skip_reason": SKIP.format(name)}
    return {"name": name, "version": "1.0", "vulns": vulns or []}


def test_all_skipped_is_unreachable_not_clean():
    # pip-audit itself prints "No known vulnerabilities found" and exits 0 for this report.
    result = classify({"dependencies": [dep("a", skipped=True), dep("b", skipped=True)]})
    assert result.status == "unreachable" and result.audited == 0
    assert result.line().startswith("dependency audit: could not reach the vulnerability service")
    assert "none of the 2 locked packages was checked" in result.line()


def test_service_error_is_unreachable_with_the_reason():
    result = classify(None, "ConnectionError: Failed to resolve 'api.osv.dev'")
    assert result.status == "unreachable" and "api.osv.dev" in result.line()


def test_vulnerabilities_are_listed():
    report = {"dependencies": [dep("a", vulns=[{"id": "PYSEC-1"}]), dep("b", skipped=True)]}
    result = classify(report)
    assert result.status == "vulnerable"
    assert result.vulnerabilities == [{"package": "a", "version": "1.0", "id": "PYSEC-1"}]


@pytest.mark.parametrize(
    ("deps", "status"),
    [([dep("a"), dep("b")], "clean"), ([dep("a"), dep("b", skipped=True)], "partial")],
)
def test_clean_only_when_every_package_was_checked(deps, status):
    result = classify({"dependencies": deps})
    assert result.status == status and result.audited == (2 if status == "clean" else 1)
