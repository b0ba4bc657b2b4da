"""Server settings from the environment: API keys, limits and the thread database."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
"""Interfaces that only this machine reaches: the ones ``arag serve`` may bind without keys."""
KEY_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_KEY_CHARS = 16


class SettingsError(ValueError):
    """A server setting is malformed; the message says which and how to fix it (never a key)."""


def parse_api_keys(spec: str) -> dict[str, str]:
    """``"name1:key1,name2:key2"`` (commas or newlines) → ``{key: name}``.

    The name is what gets recorded as a thread's owner and logged; the key never is.
    """
    keys: dict[str, str] = {}
    for n, item in enumerate(re.split(r"[,\n]", spec), 1):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        name, sep, key = item.partition(":")
        name, key = name.strip(), key.strip()
        if not sep or not KEY_NAME.match(name):
            raise SettingsError(
                f"API key entry {n} must look like name:key, with a name of letters, digits, "
                "'_', '.', '@' or '-'"
            )
        if len(key) < MIN_KEY_CHARS:
            raise SettingsError(f"API key {name!r} is shorter than {MIN_KEY_CHARS} characters")
        if key in keys:
            raise SettingsError(f"API keys {keys[key]!r} and {name!r} are the same key")
        keys[key] = name
    return keys


def load_api_keys(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Keys from ``ARAG_API_KEYS`` and/or the file named by ``ARAG_API_KEYS_FILE``."""
    spec = environ.get("ARAG_API_KEYS", "")
    path = environ.get("ARAG_API_KEYS_FILE", "")
    if path:
        try:
            spec += "\n" + Path(path).read_text("utf-8")
        except OSError as exc:
            raise SettingsError(
                f"cannot read ARAG_API_KEYS_FILE {path!r}: {exc.strerror}"
            ) from None
    return parse_api_keys(spec)


def load_grants(api_keys: dict[str, str], environ: Mapping[str, str] = os.environ) -> dict:
    """``ARAG_GRANTS`` for these keys (``arag.server.access.parse_grants``)."""
    from arag.server.access import GrantsError, parse_grants

    try:
        return parse_grants(environ.get("ARAG_GRANTS", ""), api_keys.values())
    except GrantsError as exc:
        raise SettingsError(str(exc)) from None


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


def _count(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise SettingsError(f"{name} must be a whole number (0 for no limit), got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class ServerSettings:
    """What the ``/v1`` app needs besides the graph; see ``from_env`` for the variables."""

    api_keys: dict[str, str] = field(default_factory=dict, repr=False)
    """Key → name. Empty: no auth (``arag serve`` then binds to 127.0.0.1 only)."""
    max_body_bytes: int = 1_000_000
    """Larger request bodies get 413."""
    request_timeout: float = 300.0
    """Seconds one chat completion may take before 504 (or an error event when streaming)."""
    body_timeout: float = 30.0
    """Seconds a client may take to send its request body before 408."""
    postgres_dsn: str = field(default="", repr=False)
    """PostgreSQL DSN for threads; empty: SQLite in the data directory."""
    header_timeout: float = 10.0
    """Seconds a connection may take to send a complete request head (``arag serve``)."""
    keep_alive_timeout: float = 75.0
    """Seconds an idle connection stays open between requests (``arag serve``). Longer than
    the idle timeout of clients and load balancers that reuse connections (~60 s)."""
    checkpoints_kept: int = 1
    """Checkpoints a thread keeps after each turn (``arag serve``; 0: all). The newest holds
    the whole conversation; older ones only served time travel, which the API does not offer."""
    max_threads_per_key: int = 1000
    """Threads one API key may create; past it a new thread is refused with 429 (0: no limit)."""
    grants: dict = field(default_factory=dict)
    """Key name → ``arag.server.access.Grant`` from ``ARAG_GRANTS`` (see ``arag.server.access``)."""
    max_connections: int = 2048
    """Open connections beyond which ``arag serve`` answers 503 at once (capped by the
    process's descriptor limit)."""

    @property
    def key_names(self) -> list[str]:
        """Configured key names (safe to print)."""
        return sorted(set(self.api_keys.values()))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServerSettings:
        """Read ``ARAG_API_KEYS``/``ARAG_API_KEYS_FILE``, ``ARAG_MAX_BODY_BYTES``,
        ``ARAG_SERVE_TIMEOUT``, ``ARAG_BODY_TIMEOUT``, ``ARAG_HEADER_TIMEOUT``,
        ``ARAG_KEEP_ALIVE_TIMEOUT``, ``ARAG_MAX_CONNECTIONS``, ``ARAG_CHECKPOINTS_KEPT``,
        ``ARAG_MAX_THREADS_PER_KEY``, ``ARAG_GRANTS`` and ``ARAG_POSTGRES_DSN`` (or
        ``DATABASE_URL``).
        """  # noqa: D205
        api_keys = load_api_keys(environ)
        return cls(
            api_keys=api_keys,
            grants=load_grants(api_keys, environ),
            max_body_bytes=int(_number(environ, "ARAG_MAX_BODY_BYTES", 1_000_000)),
            request_timeout=_number(environ, "ARAG_SERVE_TIMEOUT", 300.0),
            body_timeout=_number(environ, "ARAG_BODY_TIMEOUT", 30.0),
            postgres_dsn=environ.get("ARAG_POSTGRES_DSN") or environ.get("DATABASE_URL") or "",
            header_timeout=_number(environ, "ARAG_HEADER_TIMEOUT", 10.0),
            keep_alive_timeout=_number(environ, "ARAG_KEEP_ALIVE_TIMEOUT", 75.0),
            max_connections=int(_number(environ, "ARAG_MAX_CONNECTIONS", 2048)),
            checkpoints_kept=_count(environ, "ARAG_CHECKPOINTS_KEPT", 1),
            max_threads_per_key=_count(environ, "ARAG_MAX_THREADS_PER_KEY", 1000),
        )
