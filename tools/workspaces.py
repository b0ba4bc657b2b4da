"""Workspaces: named collections of documents, each with its own index, records and language.

A workspace is everything one corpus needs: its chunks (a LanceDB table, or a Weaviate
tenant), its ingestion record manager and file fingerprints, its corpus language (and so its
BM25 tokenizer) and its score calibration (the cosine ramp recorded with the index, and any
thresholds of its own in ``workspace_settings.json``, :mod:`tools.workspace_settings`), its
writer lock and its freshness stamp (``index_generation``). With the embedded index each
workspace is therefore a data directory of its own under the service's::

    <data_dir>/                     the default workspace: today's layout, unchanged
    <data_dir>/workspaces/<name>/   any other workspace, the same layout inside

so existing data directories keep working as the ``default`` workspace, and ingest, prune,
repair, the writer lock and the freshness check need no workspace logic of their own. Threads
stay in the service's data directory (they belong to keys, not to workspaces).

With Weaviate the chunks of workspace ``<name>`` live in tenant ``<name>`` (the default
workspace keeps ``ARAG_TENANT``); the record manager stays in the workspace's local directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULT_WORKSPACE = "default"
"""The workspace of a service that never names one: the data directory itself."""
WORKSPACES_DIR = "workspaces"
"""Where the other workspaces live under the data directory."""
# Lower case only: the name is a directory (case-insensitive on some filesystems) and a
# Weaviate tenant; no dots or slashes, so it can never leave the workspaces directory.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
NAME_RULE = "1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit"


class WorkspaceNameError(ValueError):
    """A workspace name that does not follow :data:`NAME_RULE`; the message says so."""


def check_workspace(name: str) -> str:
    """``name`` if it is a valid workspace name, else a :class:`WorkspaceNameError`."""
    if not isinstance(name, str) or not _NAME.match(name):
        shown = name if isinstance(name, str) and len(name) <= 80 else "(too long)"
        raise WorkspaceNameError(f"Workspace name {shown!r} is invalid: use {NAME_RULE}.")
    return name


def workspace_dir(data_dir: str | os.PathLike, name: str) -> Path:
    """The directory holding workspace ``name``'s index files and records."""
    root = Path(data_dir)
    if check_workspace(name) == DEFAULT_WORKSPACE:
        return root
    return root / WORKSPACES_DIR / name


def workspace_tenant(name: str, default_tenant: str) -> str:
    """The Weaviate tenant of workspace ``name`` (the default one keeps ``default_tenant``)."""
    return default_tenant if check_workspace(name) == DEFAULT_WORKSPACE else name


def workspace_exists(data_dir: str | os.PathLike, name: str) -> bool:
    """Whether ``name`` exists: the default always does, another once something was ingested.

    An ingest (CLI or API) creates the workspace's directory before it writes anything, for
    either backend (the record manager lives there), so the directory is the one record.
    """
    return name == DEFAULT_WORKSPACE or workspace_dir(data_dir, name).is_dir()


def list_workspaces(data_dir: str | os.PathLike) -> list[str]:
    """Every workspace of the data directory, the default first, then by name."""
    root = Path(data_dir) / WORKSPACES_DIR
    try:
        names = sorted(p.name for p in root.iterdir() if p.is_dir() and _NAME.match(p.name))
    except OSError:
        names = []
    return [DEFAULT_WORKSPACE, *(n for n in names if n != DEFAULT_WORKSPACE)]
