"""The house's rules: every module imports on its own, and settings import no graph.

Import contracts (layers, no cycles) are checked by ``lint-imports`` in ``make test``; these
tests catch what a contract cannot: a module that only imports after another was imported
first (a circular import hidden by test order), and a package ``__init__`` that does work.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("graph", "nodes", "tools", "arag")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__main__.py":  # an entry point runs its program when imported
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


IMPORT_ONE = "import importlib, sys; importlib.import_module(sys.argv[1])"


def _import_alone(module: str) -> tuple[str, int, str]:
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_ONE, module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return module, proc.returncode, proc.stderr[-600:]


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    modules = _modules()
    assert len(modules) > 60 and "nodes.common" in modules and "arag.turn" in modules
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(_import_alone, modules))
    failed = {module: err for module, code, err in results if code != 0}
    assert failed == {}


def test_settings_and_state_import_without_compiling_the_graph():
    code = (
        "import sys, graph.config, graph.state, nodes.common; "
        "print([m for m in ('graph.builder', 'nodes.grade') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
