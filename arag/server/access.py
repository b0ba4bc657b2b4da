"""Which workspaces each API key may read and which it may write (``ARAG_GRANTS``).

``ARAG_GRANTS`` holds one entry per key name, separated by ``;`` or newlines::

    alice read=default,team-a write=team-a; bob read=team-b write=team-b; ops read=* write=*

``read`` lets a key ask questions, search, list documents and keep threads in a workspace;
``write`` lets it add and delete documents there (a write grant does not imply read). ``*``
means every workspace. Backward compatible: a key with no entry reads the ``default``
workspace (what every key could do before workspaces) and writes nothing; without any keys
the single ``local`` user (loopback only) reads and writes everything.

Errors, in OpenAI's format: a workspace the key may not read is a 404, exactly as one that
does not exist (so a key cannot learn another team's workspace names); a write without the
grant is a 403; a malformed name is a 400.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from arag.server.auth import LOCAL_OWNER
from arag.server.errors import ApiError, invalid_request, not_found
from tools.workspaces import (
    DEFAULT_WORKSPACE,
    WorkspaceNameError,
    check_workspace,
    workspace_exists,
)

ALL = "*"
"""In a grant: every workspace, those created later included."""


class GrantsError(ValueError):
    """``ARAG_GRANTS`` is malformed; the message says which entry and why (never a key)."""


@dataclass(frozen=True)
class Grant:
    """The workspaces one key may read and write (``ALL`` in a set: every workspace)."""

    read: frozenset[str]
    write: frozenset[str]

    def reads(self, workspace: str) -> bool:
        """Whether the key may search ``workspace``."""
        return ALL in self.read or workspace in self.read

    def writes(self, workspace: str) -> bool:
        """Whether the key may add documents to ``workspace`` or delete them from it."""
        return ALL in self.write or workspace in self.write


EVERYTHING = Grant(frozenset({ALL}), frozenset({ALL}))
"""The grant of ``local`` when no keys are configured."""
DEFAULT_GRANT = Grant(frozenset({DEFAULT_WORKSPACE}), frozenset())
"""The grant of a key without an ``ARAG_GRANTS`` entry: what it had before workspaces."""


def _names(value: str, entry: int) -> frozenset[str]:
    names = set()
    for name in value.split(","):
        name = name.strip()
        if not name:
            continue
        if name != ALL:
            try:
                check_workspace(name)
            except WorkspaceNameError as exc:
                raise GrantsError(f"ARAG_GRANTS entry {entry}: {exc}") from None
        names.add(name)
    return frozenset(names)


def parse_grants(spec: str, key_names: Iterable[str]) -> dict[str, Grant]:
    """``ARAG_GRANTS`` → ``{key name: Grant}``; a name that is no configured key is refused."""
    known = set(key_names)
    grants: dict[str, Grant] = {}
    for n, item in enumerate(re.split(r"[;\n]", spec), 1):
        words = item.split()
        if not words or words[0].startswith("#"):
            continue
        name, parts = words[0], {"read": frozenset[str](), "write": frozenset[str]()}
        for word in words[1:]:
            kind, sep, value = word.partition("=")
            if not sep or kind not in parts:
                raise GrantsError(
                    f"ARAG_GRANTS entry {n} ({name}): expected read=ws1,ws2 and/or "
                    f"write=ws1, not {word[:40]!r}"
                )
            parts[kind] = parts[kind] | _names(value, n)
        if name not in known:
            raise GrantsError(f"ARAG_GRANTS entry {n} names {name!r}, which is no API key name")
        if name in grants:
            raise GrantsError(f"ARAG_GRANTS names {name!r} twice")
        grants[name] = Grant(read=parts["read"], write=parts["write"])
    return grants


@dataclass(frozen=True)
class Access:
    """The grants of every key, and the data directory the workspaces live in."""

    grants: dict[str, Grant]
    data_dir: str
    keyed: bool = True
    """False when no keys are configured: the ``local`` user may do everything."""

    def grant(self, owner: str) -> Grant:
        """The key ``owner``'s grant (see the module docstring for the defaults)."""
        if not self.keyed and owner == LOCAL_OWNER:
            return EVERYTHING
        return self.grants.get(owner, DEFAULT_GRANT)

    def readable(self, owner: str, requested: str | None) -> str:
        """The workspace ``owner`` asked to read (default: ``default``), checked.

        400 for a malformed name; 404 when it does not exist or the key may not read it.
        """
        workspace = _checked(requested)
        if not self.grant(owner).reads(workspace) or not workspace_exists(self.data_dir, workspace):
            raise unknown_workspace(workspace)
        return workspace

    async def areadable(self, owner: str, requested: str | None) -> str:
        """:meth:`readable` for async code: its look at the disk runs in a worker thread."""
        return await asyncio.to_thread(self.readable, owner, requested)

    def writable(self, owner: str, requested: str | None) -> str:
        """The workspace ``owner`` asked to write, checked: 400 malformed, 403 not granted.

        A workspace that does not exist yet is fine: the first ingest creates it.
        """
        workspace = _checked(requested)
        if not self.grant(owner).writes(workspace):
            raise ApiError(
                403,
                f"This API key may not add or delete documents in workspace {workspace!r}.",
                "permission_error",
                "workspace_write_forbidden",
                param="workspace",
            )
        return workspace

    def readable_workspaces(self, owner: str) -> list[str]:
        """The existing workspaces ``owner`` may read, the default first."""
        from tools.workspaces import list_workspaces

        grant = self.grant(owner)
        return [w for w in list_workspaces(self.data_dir) if grant.reads(w)]

    def workspace_path(self, workspace: str) -> Path:
        """The directory of ``workspace`` (checked by the caller)."""
        from tools.workspaces import workspace_dir

        return workspace_dir(self.data_dir, workspace)


def _checked(requested: str | None) -> str:
    workspace = DEFAULT_WORKSPACE if requested is None else requested
    try:
        return check_workspace(workspace)
    except WorkspaceNameError as exc:
        raise invalid_request(str(exc), "invalid_workspace", param="workspace") from None


def unknown_workspace(workspace: str) -> ApiError:
    """404 for a workspace that does not exist or that this key may not read (the same)."""
    return not_found(
        f"No workspace {workspace!r} for this API key.", "workspace_not_found", param="workspace"
    )
