"""Fuzz the running server with schemathesis, installed in an environment of its own.

``python -m benchmarks.schemathesis_run`` (``make reliability`` runs it):

1. creates a virtual environment in a temporary directory (``python3 -m venv``) and installs
   ``schemathesis`` there with pip: it is not a dependency of the project and shares none of
   its packages, so what it generates comes from outside the project's own code;
2. ingests the sample corpus into a temporary data directory and starts ``arag serve``
   (offline model, one API key) on a free loopback port;
3. runs ``schemathesis run`` against the server's ``/openapi.json`` with the key's
   ``Authorization`` header, and reads its JSON run report;
4. writes the counts (operations, cases generated, passed, failed, errors, and each failure)
   to ``benchmarks/results/schemathesis.{json,md}``.

The last stdout line is the status. Exit code 1 when schemathesis found a failure, 2 when it
could not run at all (no package registry, the server did not start).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "schemathesis"
SAMPLE = ROOT / "arag" / "sample_corpus"
CHECKS = "all"
EXCLUDED = "positive_data_acceptance"
"""ST202 "schema-valid request rejected": the schema cannot say that the last message must be
the user's, nor which thread ids exist, so such requests are rightly 400 and 404."""


@dataclass
class FuzzResult:
    """What schemathesis did against the server, or why it could not."""

    status: str
    """passed, failed or not_run."""
    schemathesis: str = ""
    """The version that ran."""
    command: str = ""
    """The schemathesis command line, the key replaced by KEY."""
    operations: int = 0
    cases: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    """One line per distinct failure: the operation and the check that failed."""
    details: str = ""
    """Schemathesis' own account of the failures (what was sent and received), key filtered."""
    reason: str = ""
    """Why it did not run."""

    def line(self) -> str:
        """One sentence for the terminal."""
        if self.status == "not_run":
            return f"schemathesis: not run ({self.reason})"
        return (
            f"schemathesis {self.schemathesis}: {self.status}: {self.cases} cases on "
            f"{self.operations} operations, {self.failed} failed, {self.errors} errors "
            f"in {self.seconds:.0f} s"
        )


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def install(venv: Path) -> Path:
    """A venv at ``venv`` with schemathesis in it (reused when it already has it)."""
    cli = venv / "bin" / "schemathesis"
    if not cli.exists():
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "schemathesis",
            ],
            check=True,
            timeout=900,
            capture_output=True,  # the error, if any, goes into the result's reason
        )
    return cli


def server_env(data_dir: Path, key: str) -> dict[str, str]:
    """The server's environment: offline, one key, no provider settings from the shell."""
    scrubbed = (
        "OPENAI_API_KEY",
        "GROQ_API_KEY",
        "TAVILY_API_KEY",
        "ARAG_POSTGRES_DSN",
        "DATABASE_URL",
        "ARAG_API_KEYS_FILE",
        "ARAG_BASE_URL",
    )
    env = {k: v for k, v in os.environ.items() if k not in scrubbed}
    env.update(
        ARAG_DATA_DIR=str(data_dir),
        ARAG_MODEL="offline",
        ARAG_API_KEYS=f"fuzz:{key}",
        LANGSMITH_TRACING="false",
        PYTHONPATH=str(ROOT),
    )
    return env


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until ``/readyz`` answers 200; ``RuntimeError`` when the server exits or is too slow."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"arag serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"arag serve was not ready within {timeout:g} s")


def summarise(report: dict) -> dict:
    """The counts the results file keeps, from schemathesis' JSON run report."""
    operations = report.get("operations") or {}
    cases = report.get("test_cases") or {}
    generated = int(cases.get("generated", 0))
    with_failures = int(cases.get("with_failures", 0))
    failures = [
        f"{f.get('code', '?')} {f.get('title', '?')} ({f.get('count', 0)}): "
        + ", ".join(f.get("operations") or [])
        for f in report.get("failures") or []
    ]
    return {
        "operations": int(operations.get("tested", 0)),
        "cases": generated,
        "passed": generated - with_failures - int(cases.get("errored", 0)),
        "failed": with_failures,
        "errors": len(report.get("errors") or []) + int(cases.get("errored", 0)),
        "failures": failures,
    }


def failure_details(output: str, limit: int = 6000) -> str:
    """The FAILURES section of schemathesis' terminal output (up to ``limit`` characters)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if " FAILURES " in line), None)
    if start is None:
        return ""
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if " WARNINGS " in lines[i] or " SUMMARY " in lines[i]
        ),
        len(lines),
    )
    return "\n".join(lines[start + 1 : end]).strip()[:limit]


def run(max_examples: int, venv: Path | None, max_time: int) -> FuzzResult:
    """Install, start the server, fuzz it; everything temporary is removed after."""
    work = Path(tempfile.mkdtemp(prefix="arag-schemathesis-"))
    key = "fuzz-" + secrets.token_hex(16)
    proc = None
    try:
        try:
            cli = install(venv or work / "venv")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip()
            detail = detail.splitlines()[-1] if detail else str(exc)
            return FuzzResult("not_run", reason=f"could not install schemathesis: {detail}")
        version = (
            subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True)
            .stdout.strip()
            .rsplit(" ", 1)[-1]
        )
        data = work / "data"
        subprocess.run(
            [sys.executable, "-m", "arag.cli", "ingest", str(SAMPLE), "--data-dir", str(data)],
            cwd=ROOT,
            env=server_env(data, key),
            check=True,
            capture_output=True,
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(work / "serve.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "arag.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=server_env(data, key),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(url, proc)
        except RuntimeError as exc:
            return FuzzResult("not_run", schemathesis=version, reason=str(exc))
        report_path = work / "report.json"
        command = [
            str(cli),
            "run",
            f"{url}/openapi.json",
            "--header",
            f"Authorization: Bearer {key}",
            "--checks",
            CHECKS,
            "--exclude-checks",
            EXCLUDED,
            "--max-examples",
            str(max_examples),
            "--max-time",
            str(max_time),
            "--workers",
            "1",
            "--seed",
            "1",
            "--request-timeout",
            "60",
            "--report",
            "json",
            "--report-json-path",
            str(report_path),
        ]
        started = time.monotonic()
        done = subprocess.run(  # in ``work``: its example database must not land in the repo
            command, cwd=work, capture_output=True, text=True, timeout=max_time + 600
        )
        seconds = time.monotonic() - started
        shown = " ".join(command).replace(key, "KEY").replace(str(cli), "schemathesis")
        shown = shown.replace(str(report_path), "report.json")
        (work / "schemathesis.out").write_text(done.stdout + done.stderr)
        if not report_path.exists():
            tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
            return FuzzResult(
                "not_run",
                schemathesis=version,
                command=shown,
                reason="no run report: " + " | ".join(tail).replace(key, "KEY"),
            )
        counts = summarise(json.loads(report_path.read_text()))
        counts["details"] = failure_details(done.stdout).replace(key, "KEY")
        status = "failed" if counts["failed"] or counts["failures"] or done.returncode else "passed"
        return FuzzResult(status, schemathesis=version, command=shown, seconds=seconds, **counts)
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def write(result: FuzzResult, results: Path = RESULTS) -> None:
    """``results``.json and .md."""
    results.parent.mkdir(parents=True, exist_ok=True)
    results.with_suffix(".json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    lines = [
        "# Schemathesis against `arag serve`, from its own environment",
        "",
        "Generated by `make reliability` (`python -m benchmarks.schemathesis_run`): schemathesis "
        "is installed in a fresh virtual environment outside the project and run against a "
        "live `arag serve` (offline model, sample corpus, one API key) through its "
        "`/openapi.json`.",
        "",
        f"- status: **{result.status}**" + (f" ({result.reason})" if result.reason else ""),
        f"- schemathesis {result.schemathesis}, checks: `{CHECKS}` except `{EXCLUDED}` (the "
        "schema cannot say that the last message must be the user's, nor which thread ids "
        "exist: such schema-valid requests are rightly 400 and 404)",
        f"- operations: {result.operations}",
        f"- cases generated: {result.cases}, passed: {result.passed}, failed: {result.failed}",
        f"- errors: {result.errors}",
        f"- time: {result.seconds:.0f} s",
        "",
        f"Command: `{result.command}`" if result.command else "",
    ]
    if result.failures:
        lines += ["", "## Failures", ""] + [f"- {line}" for line in result.failures]
    if result.details:
        lines += ["", "As schemathesis reported them:", "", "```", result.details, "```"]
    results.with_suffix(".md").write_text("\n".join(lines).rstrip() + "\n")


RELIABILITY = ROOT / "benchmarks" / "results" / "reliability.md"
SECTION = "## External fuzzing: schemathesis"


def note_in_reliability(result: FuzzResult, report: Path = RELIABILITY) -> None:
    """Put the run's counts under the fault ledger in ``report`` (replacing an older note)."""
    if not report.exists():
        return
    text = report.read_text().split(SECTION)[0].rstrip()
    note = (
        f"{SECTION}\n\n`benchmarks/schemathesis_run.py`, from a virtual environment of its own "
        f"against a live `arag serve`: {result.line()}. Details: "
        "[schemathesis.md](schemathesis.md).\n"
    )
    report.write_text(f"{text}\n\n{note}")


def main(argv: list[str] | None = None) -> int:
    """The command line; the exit code (0 passed, 1 failed, 2 not run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100, help="cases per operation")
    parser.add_argument("--max-time", type=int, default=900, help="seconds for the run")
    parser.add_argument("--venv", type=Path, help="reuse this venv (created if missing)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="path without suffix")
    args = parser.parse_args(argv)
    result = run(args.max_examples, args.venv, args.max_time)
    write(result, args.results)
    if args.results == RESULTS:
        note_in_reliability(result)
    print(result.line())
    return {"passed": 0, "failed": 1}.get(result.status, 2)


if __name__ == "__main__":
    raise SystemExit(main())
