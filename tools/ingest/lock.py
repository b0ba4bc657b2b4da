"""One writer per data directory: an inter-process lock held by ingest, prune and repair.

Two ``arag ingest`` runs on one data directory used to both find a chunk missing and both
append it (LanceDB keeps duplicate ids), and one of them could die on a LanceDB commit
conflict. Every writer now holds ``<data_dir>/ingest.lock`` (an OS-level lock from the
``filelock`` package, released by the kernel when a process dies, so a killed ingest never
leaves a stale lock behind). A second writer waits up to ``wait`` seconds, then gives up with
:class:`IngestBusyError`, whose message says who holds the lock.

After every write, :func:`bump_generation` rewrites ``<data_dir>/index_generation``, so
readers in other processes (``arag serve``) can notice cheaply that the index changed.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from tools.index.base import GENERATION_FILE, IndexError_, IndexNotFoundError

LOCK_FILE = "ingest.lock"
OWNER_FILE = "ingest.lock.owner"  # "pid started-at" of the holder, for the waiting message
DEFAULT_WAIT_SECONDS = 600.0


class IngestBusyError(IndexError_):
    """Another process is writing to the data directory; nothing was changed."""


def _holder(data_dir: Path) -> str:
    try:
        pid, started = (data_dir / OWNER_FILE).read_text("utf-8").split()[:2]
        since = time.strftime("%H:%M:%S", time.localtime(float(started)))
        return f"process {pid}, since {since}"
    except (OSError, ValueError):
        return "another process"


@contextmanager
def writer_lock(
    data_dir: str | os.PathLike,
    *,
    wait: float = DEFAULT_WAIT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
    create: bool = True,
) -> Iterator[None]:
    """Hold the data directory's writer lock for the block.

    Returns at once when the lock is free. Otherwise calls ``on_wait(message)`` once (the CLI
    prints it) and waits up to ``wait`` seconds (``0``: not at all) before raising
    :class:`IngestBusyError`. The directory is created if needed when ``create``, else a
    missing one raises ``IndexNotFoundError`` (prune and repair never create an index).
    """
    root = Path(data_dir).expanduser().resolve()
    if not create and not root.is_dir():
        raise IndexNotFoundError(f"No index at {root}. Run `arag ingest PATH` first.")
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(root / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _holder(root)
        if wait > 0 and on_wait is not None:
            on_wait(
                f"another ingest is running on {root} ({holder}); waiting up to {wait:g} s "
                "for it to finish"
            )
        try:
            if wait <= 0:
                raise Timeout(str(root / LOCK_FILE))
            lock.acquire(timeout=wait)
        except Timeout:
            raise IngestBusyError(
                f"another ingest is running on {root} ({holder}); nothing was changed. "
                "Run again when it has finished (or pass --wait SECONDS to wait longer)."
            ) from None
    try:
        (root / OWNER_FILE).write_text(f"{os.getpid()} {time.time():.0f}\n", "utf-8")
        yield
    finally:
        with suppress(OSError):
            (root / OWNER_FILE).unlink()
        lock.release()


def bump_generation(data_dir: str | os.PathLike) -> str:
    """Record that the index changed: a new random token in ``index_generation`` (atomic)."""
    root = Path(data_dir).expanduser().resolve()
    token = uuid.uuid4().hex
    tmp = root / f".{GENERATION_FILE}.{token}.tmp"
    tmp.write_text(token + "\n", "utf-8")
    os.replace(tmp, root / GENERATION_FILE)
    return token


def read_generation(data_dir: str | os.PathLike) -> str:
    """The current generation token ("" before the first write)."""
    try:
        return (Path(data_dir) / GENERATION_FILE).read_text("utf-8").strip()
    except OSError:
        return ""
