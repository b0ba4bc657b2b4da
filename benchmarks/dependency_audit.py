"""Audit the locked dependencies with pip-audit, and say plainly when it could not.

``python -m benchmarks.dependency_audit`` writes ``requirements.lock`` (``pip freeze`` of the
running environment, the project itself excluded), runs ``pip-audit`` over it and writes
``benchmarks/results/dependency_audit.{json,md}``. The last stdout line is the status.

pip-audit answers "No known vulnerabilities found" with exit code 0 even when it could look
up none of the packages (every one "skipped": PyPI's JSON API unreachable or answering 404).
That is not a pass, so the status here is ``vulnerable``, ``clean`` (every package looked
up), ``partial`` or ``unreachable`` (nothing could be looked up). Exit code 1 only for
``vulnerable``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
RESULTS = ROOT / "benchmarks" / "results" / "dependency_audit"
TIMEOUT_SECONDS = 600


@dataclass
class AuditResult:
    """What pip-audit could and could not establish."""

    status: str
    """vulnerable, clean, partial or unreachable."""
    packages: int = 0
    audited: int = 0
    vulnerabilities: list[dict] = field(default_factory=list)
    error: str = ""
    """Why nothing could be audited (the service's error, or the skip reason)."""

    def line(self) -> str:
        """One sentence for the terminal."""
        if self.status == "unreachable":
            return (
                f"dependency audit: could not reach the vulnerability service; none of the "
                f"{self.packages} locked packages was checked ({self.error})"
            )
        found = f"{len(self.vulnerabilities)} known vulnerabilities"
        return (
            f"dependency audit: {self.status}: {found} in {self.audited} of {self.packages} "
            "locked packages checked"
        )


def write_lock(path: Path = LOCK) -> int:
    """Freeze the running environment into ``path``; the number of pinned packages."""
    frozen = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "freeze",
            "--exclude-editable",
            "--disable-pip-version-check",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pins = sorted(
        (line for line in frozen if "==" in line and not line.lower().startswith("adaptive-rag")),
        key=str.lower,
    )
    header = (
        "# Locked dependencies: `pip freeze` of the dev environment (make install-dev).\n"
        "# Regenerated and audited by `make reliability` (benchmarks/dependency_audit.py).\n"
    )
    path.write_text(header + "\n".join(pins) + "\n", encoding="utf-8")
    return len(pins)


def classify(report: dict | None, error: str = "") -> AuditResult:
    """Turn pip-audit's JSON report (``None`` if it failed) into an :class:`AuditResult`."""
    if report is None:
        return AuditResult("unreachable", error=error or "pip-audit failed")
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    vulns = [
        {"package": d["name"], "version": d.get("version", ""), "id": v.get("id", "")}
        for d in deps
        for v in d.get("vulns", [])
    ]
    audited = len(deps) - len(skipped)
    if vulns:
        status = "vulnerable"
    elif deps and audited == 0:
        reason = skipped[0]["skip_reason"].split(":")[0]
        return AuditResult("unreachable", len(deps), 0, [], reason)
    else:
        status = "clean" if not skipped else "partial"
    return AuditResult(status, len(deps), audited, vulns)


def run_audit(lock: Path = LOCK) -> AuditResult:
    """Run pip-audit over ``lock`` (no resolution: the pins are the whole environment)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip_audit",
                    "-r",
                    str(lock),
                    "--no-deps",
                    "--disable-pip",
                    "--progress-spinner",
                    "off",
                    "-f",
                    "json",
                    "-o",
                    str(out),
                ],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            return classify(None, f"pip-audit timed out after {TIMEOUT_SECONDS} s")
        if not out.exists() or not out.read_text().strip():
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
            return classify(None, lines[-1][:300] if lines else f"exit code {done.returncode}")
        return classify(json.loads(out.read_text()))


def main(argv: list[str] | None = None) -> int:
    """Lock, audit, write the results; exit 1 only when vulnerabilities were found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-lock", action="store_true", help="audit the existing lock file")
    args = parser.parse_args(argv)
    if not args.no_lock:
        write_lock()
    result = run_audit()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.with_suffix(".json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    RESULTS.with_suffix(".md").write_text(
        "# Dependency audit (pip-audit over requirements.lock)\n\n"
        "Generated by `make reliability`.\n\n" + result.line() + "\n"
    )
    print(result.line())
    return 1 if result.status == "vulnerable" else 0


if __name__ == "__main__":
    sys.exit(main())
