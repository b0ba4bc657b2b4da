"""Durable thread storage: SQLite in the data directory, or PostgreSQL when a DSN is set.

One factory, one branch per backend, each backend's imports inside its branch. PostgreSQL is the
scale-out path: several ``arag serve`` processes over one database continue the same threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

SQLITE_FILE = "threads.sqlite"
SETUP_LOCK_ID = 0x0A4A6_5E7E  # advisory lock: two processes starting together migrate once
SETUP_LOCK_POLLS = 600  # x 0.2 s


def describe(data_dir: str, dsn: str) -> str:
    """Where threads live, printable (a DSN's password is masked)."""
    if not dsn:
        return f"sqlite {Path(data_dir) / SQLITE_FILE}"
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - a bad DSN is reported when connecting
        return "postgres (unparsable DSN)"
    host, port = parts.get("host", "localhost"), parts.get("port", 5432)
    return f"postgres {parts.get('user', '')}@{host}:{port}/{parts.get('dbname', '')}"


async def _lock(conn) -> None:
    """Take the setup lock by polling, not by waiting in ``pg_advisory_lock``.

    The migrations run ``CREATE INDEX CONCURRENTLY``, which waits for every open transaction,
    including a second process blocked in ``pg_advisory_lock``: a deadlock. A short
    ``pg_try_advisory_lock`` statement every 0.2 s holds nothing while it waits.
    """
    for _ in range(SETUP_LOCK_POLLS):
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (SETUP_LOCK_ID,))
        if (await cursor.fetchone())["ok"]:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("another process has been migrating the thread tables for over 2 minutes")


@asynccontextmanager
async def open_checkpointer(data_dir: str, dsn: str = "") -> AsyncIterator[BaseCheckpointSaver]:
    """An async checkpointer, set up and ready; closed on exit."""
    if dsn:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=10,
            open=False,
            # What AsyncPostgresSaver needs: autocommit, dict rows, no server-side prepares
            # (those break behind pgbouncer in transaction mode).
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await pool.open(wait=True, timeout=15)
        try:
            async with pool.connection() as conn:
                await _lock(conn)
                try:
                    await AsyncPostgresSaver(conn).setup()
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_ID,))
            yield AsyncPostgresSaver(pool)
        finally:
            await pool.close()
    else:
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        path = Path(data_dir) / SQLITE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path))
        try:
            # WAL: readers (readiness, thread reads) do not wait for a writing run.
            await conn.execute("PRAGMA journal_mode=WAL")
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            yield saver
        finally:
            await conn.close()


async def keep_latest(saver: BaseCheckpointSaver, thread_id: str, keep: int = 1) -> None:
    """Delete all but the ``keep`` newest checkpoints of ``thread_id`` (and their writes).

    Every checkpoint holds the whole state, and a turn saves one per step: kept forever, a
    thread's storage grows with the square of its turns (64 MB after 100 turns). The
    conversation itself lives in the newest checkpoint, so nothing a client can read is
    lost. PostgreSQL uses the saver's own ``aprune(strategy="keep_latest")`` (which keeps
    one, and cleans the blobs only old checkpoints used); the SQLite saver has no prune, so
    its two tables are trimmed here, newest first by checkpoint id (ids are time-ordered,
    the order the saver itself reads them in).
    """
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if not isinstance(saver, AsyncSqliteSaver):
        await saver.aprune([thread_id], strategy="keep_latest")
        return
    keep = max(1, keep)
    async with saver.lock:
        for table in ("writes", "checkpoints"):
            await saver.conn.execute(
                f"DELETE FROM {table} WHERE thread_id = ?1 AND checkpoint_id NOT IN ("
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ?1 "
                "AND checkpoint_ns = ''  ORDER BY checkpoint_id DESC LIMIT ?2)",
                (thread_id, keep),
            )
        await saver.conn.commit()


async def threads_of(saver: BaseCheckpointSaver, owner: str) -> int:
    """How many threads ``owner`` has (the owner is in each checkpoint's metadata)."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if isinstance(saver, AsyncSqliteSaver):
        async with saver.conn.execute(
            "SELECT COUNT(DISTINCT thread_id) FROM checkpoints "
            "WHERE json_extract(CAST(metadata AS TEXT), '$.owner') = ?",
            (owner,),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0])
    async with saver._cursor() as cur:  # AsyncPostgresSaver: metadata is jsonb
        await cur.execute(
            "SELECT COUNT(DISTINCT thread_id) AS n FROM checkpoints WHERE metadata->>'owner' = %s",
            (owner,),
        )
        row = await cur.fetchone()
    return int(row["n"])


async def latest_id(saver: BaseCheckpointSaver, thread_id: str) -> str | None:
    """The id of ``thread_id``'s newest checkpoint, or None when the thread does not exist."""
    found = await saver.aget_tuple({"configurable": {"thread_id": thread_id}})
    return None if found is None else found.config["configurable"]["checkpoint_id"]


async def roll_back(saver: BaseCheckpointSaver, thread_id: str, to: str | None) -> None:
    """Return ``thread_id`` to checkpoint ``to``: delete what a failed turn saved after it.

    A turn saves a checkpoint per step, the first one holding the new user message. One cut
    by the request timeout (or failing) would otherwise leave the thread with a question and
    no answer, and the next turn would read it as history. ``to=None`` (the turn made the
    thread) deletes the thread. Checkpoint ids are time-ordered, so "after" is ``> to``; on
    PostgreSQL the channel blobs only the deleted checkpoints used go too.
    """
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if to is None:
        await saver.adelete_thread(thread_id)
        return
    if isinstance(saver, AsyncSqliteSaver):
        async with saver.lock:
            for table in ("writes", "checkpoints"):
                await saver.conn.execute(
                    f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id > ?",
                    (thread_id, to),
                )
            await saver.conn.commit()
        return
    async with saver._cursor() as cur, cur.connection.transaction():  # AsyncPostgresSaver
        for table in ("checkpoint_writes", "checkpoints"):
            await cur.execute(
                f"DELETE FROM {table} WHERE thread_id = %s AND checkpoint_id > %s",
                (thread_id, to),
            )
        await cur.execute(
            "DELETE FROM checkpoint_blobs b WHERE b.thread_id = %s AND NOT EXISTS ("
            "SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id "
            "AND c.checkpoint_ns = b.checkpoint_ns "
            "AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
            (thread_id,),
        )
