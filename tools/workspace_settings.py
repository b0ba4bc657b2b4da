"""A workspace's own score thresholds, kept in ``<workspace dir>/workspace_settings.json``.

Corpora differ: a workspace of near-duplicate manuals needs a higher ``relevance_threshold``
than one of short notes, and a Korean workspace its own CJK pair. The file holds only the
thresholds the workspace changes (``arag workspace NAME --probe-weak 0.5``); the others stay
the service's. It lives in the workspace's directory, which both backends keep (the record
manager is there), so a Weaviate tenant has one too.

Precedence (:meth:`graph.config.Context.with_workspace_thresholds`): a run-time value that
differs from the service-wide setting wins; else the workspace's value; else the service-wide
setting (environment, then default).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

SETTINGS_FILE = "workspace_settings.json"
SCORE_THRESHOLDS = (
    "probe_strong",
    "probe_weak",
    "relevance_threshold",
    "probe_weak_cjk",
    "relevance_threshold_cjk",
    "answer_coverage",
    "answer_coverage_cjk",
)
"""The thresholds a workspace may set, all in [0, 1]: on the calibrated score, and the offline
answer's near-miss check (``answer_coverage``, a share of the question's terms)."""


class WorkspaceSettingsError(ValueError):
    """A settings file or value that cannot be used; the message names the file or value."""


def _checked(name: str, value: object) -> float:
    if name not in SCORE_THRESHOLDS:
        raise WorkspaceSettingsError(
            f"{name!r} is no workspace threshold (use {', '.join(SCORE_THRESHOLDS)})"
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WorkspaceSettingsError(f"{name} must be a number, not {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise WorkspaceSettingsError(f"{name} must be between 0 and 1 (a calibrated score)")
    return float(value)


def read_thresholds(workspace_dir: str | os.PathLike) -> dict[str, float]:
    """The thresholds ``workspace_dir`` sets (``{}`` without a settings file)."""
    path = Path(workspace_dir) / SETTINGS_FILE
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise WorkspaceSettingsError(f"{path} is unreadable: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("thresholds", {}), dict):
        raise WorkspaceSettingsError(f"{path} should hold {{'thresholds': {{name: number}}}}")
    try:
        return {k: _checked(k, v) for k, v in raw.get("thresholds", {}).items()}
    except WorkspaceSettingsError as exc:
        raise WorkspaceSettingsError(f"{path}: {exc}") from None


def write_thresholds(
    workspace_dir: str | os.PathLike, changes: dict[str, float | None]
) -> dict[str, float]:
    """Set (a number) or drop (``None``) thresholds of a workspace; the thresholds it now sets.

    Checked before anything is written, and written atomically (temp file, then rename).
    """
    current = read_thresholds(workspace_dir)
    for name, value in changes.items():
        if value is None:
            _checked(name, 0.0)  # the name must still be a threshold
            current.pop(name, None)
        else:
            current[name] = _checked(name, value)
    directory = Path(workspace_dir)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".workspace_settings.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"thresholds": dict(sorted(current.items()))}, fh, indent=2)
        os.replace(tmp, directory / SETTINGS_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return current
