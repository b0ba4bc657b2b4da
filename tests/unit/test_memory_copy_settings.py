"""Deployers set the in-memory copy's background limits from the environment."""

from __future__ import annotations

import os
import subprocess
import sys

PRINT_LIMITS = (
    "import tools.index.memory_copy as m; print(m.MEMORY_TABLE_ROWS, m.BACKGROUND_MEMORY_CHARS)"
)


def _import_with(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARAG_MEMORY_COPY")}
    return subprocess.run(
        [sys.executable, "-c", PRINT_LIMITS],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_defaults_and_environment_overrides():
    assert _import_with().stdout.split() == ["150000", "100000000"]
    lowered = _import_with(ARAG_MEMORY_COPY_ROWS="0", ARAG_MEMORY_COPY_CHARS="5_000_000")
    assert lowered.stdout.split() == ["0", "5000000"]


def test_a_malformed_limit_is_refused_by_name():
    result = _import_with(ARAG_MEMORY_COPY_ROWS="lots")
    assert result.returncode != 0
    assert "ARAG_MEMORY_COPY_ROWS must be a whole number of 0 or more, got 'lots'" in result.stderr
