"""How the app runs the graph on each host.

- ``LocalRunner`` (``arag serve``): a compiled graph over the process's own checkpointer; a
  thread's owner is recorded in its checkpoint metadata.
- ``LangGraphRunner`` (``http.app`` under ``langgraph dev`` / the LangGraph API): runs go through
  the in-process SDK client, so threads live in the LangGraph server's thread store and a
  conversation started on ``/v1`` shows up in Studio; the owner is thread metadata, the same key
  ``langgraph_auth`` filters on.

Both read the turn with ``arag.turn`` and yield the same events: a ``Step`` per path entry as
the graph advances, a ``Token`` per streamed piece of the reply (sentences that verified as the
answer was written, then the rest after the check), then one ``Final`` (the turn's
``TurnResult``). The tokens concatenate to ``Final.content``.

A streamed turn on a thread runs ``detached`` from the response: a client that disconnects
mid-stream stops reading, not the turn, so the answer is still stored and the thread never
keeps a user message without its reply. The turn stays bounded by the request timeout, and
the app waits for such turns (``finish_detached``) before it closes the thread store.

A turn that ends without an answer (cut by the request timeout, or failed) is undone on its
thread: ``LocalRunner`` deletes the checkpoints it saved, ``LangGraphRunner`` cancels the run
with the LangGraph API's ``rollback``. The client gets the error; the thread is as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol

from arag.server.auth import LOCAL_OWNER
from arag.server.checkpointers import keep_latest, latest_id, roll_back
from arag.server.errors import ApiError
from arag.server.thread_ids import langgraph_thread_id
from arag.turn import Step, Token, stream_turn, text_of
from arag.turn import TurnResult as Final
from graph.config import Context
from graph.services import Services
from tools.index.base import disk_full_cause
from tools.workspaces import DEFAULT_WORKSPACE

log = logging.getLogger("arag.server")
GRAPH_ID = "adaptive_rag"
CHECK_TIMEOUT = 5.0
MIN_FREE_BYTES = 1 << 20
"""Below this much free space on the data directory's disk, ``/readyz`` reports the disk full."""


_END = object()
_DETACHED: set[asyncio.Task[None]] = set()


async def detached(
    events: AsyncIterator[Step | Token | Final], timeout: float
) -> AsyncIterator[Step | Token | Final]:
    """``events``, produced by a task of their own that the reader's cancellation does not stop.

    The reader gets the same events and errors (``TimeoutError`` after ``timeout`` seconds). If
    it goes away (the client disconnected), the task runs the turn to its end and stores it; a
    failure then is logged, since nobody is left to tell.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue()
    reader = {"gone": False}

    async def produce() -> None:
        try:
            async with asyncio.timeout(timeout):
                async for event in events:
                    queue.put_nowait(event)
        except Exception as exc:  # noqa: BLE001 - handed to the reader, or logged
            queue.put_nowait(exc)
            if reader["gone"]:
                log.warning("a turn whose client disconnected failed: %s", type(exc).__name__)
        finally:
            queue.put_nowait(_END)  # a cancelled task (shutdown) still ends the reader

    task = asyncio.create_task(produce(), name="arag-detached-turn")
    _DETACHED.add(task)
    task.add_done_callback(_DETACHED.discard)
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        reader["gone"] = not task.done()


async def finish_detached(timeout: float) -> None:
    """Wait up to ``timeout`` seconds for the turns still running without a client."""
    if pending := list(_DETACHED):
        log.info("waiting for %d turn(s) whose client disconnected", len(pending))
        await asyncio.wait(pending, timeout=timeout)


def thread_busy(thread_id: str) -> ApiError:
    """409: one run per thread at a time, as the LangGraph API's ``reject`` strategy does."""
    return ApiError(
        409,
        f"Thread {thread_id} is answering another message; retry when it is done.",
        "conflict_error",
        "thread_busy",
    )


def _kwargs(message: Any) -> dict[str, Any]:
    if isinstance(message, dict):
        return message.get("additional_kwargs") or {}
    return message.additional_kwargs or {}


def _role(message: Any) -> str:
    kind = message.get("type") if isinstance(message, dict) else message.type
    return {"human": "user", "ai": "assistant"}.get(kind, kind)


def chat_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """A thread's messages as OpenAI-style ``{"role", "content"}`` (plus citations)."""
    out = []
    for m in messages:
        entry: dict[str, Any] = {"role": _role(m), "content": text_of(m)}
        if citations := _kwargs(m).get("citations"):
            entry["citations"] = citations
        out.append(entry)
    return out


def _finished(result: Final) -> Final:
    """The turn's result, or a 500 when the graph ended without reaching ``respond``."""
    if not result.responded:
        raise ApiError(500, "The graph ended without an answer.", "server_error", "no_answer")
    return result


class Runner(Protocol):
    """What the ``/v1`` routes need from a host."""

    def thread_id(self, requested: str) -> str:
        """The stored id for a client-chosen thread id."""
        ...

    async def owner_of(self, thread_id: str) -> str | None:
        """The thread's owner, or None when there is no such thread."""
        ...

    async def workspace_of(self, thread_id: str) -> str:
        """The workspace an existing thread answers from (threads from before: the default)."""
        ...

    def run(
        self,
        messages: list[dict[str, Any]],
        thread_id: str | None,
        owner: str,
        context: dict[str, Any] | None = None,
    ) -> AsyncIterator[Step | Token | Final]:
        """One turn: on a thread (``messages`` = the new message) or stateless (the history).

        ``context`` overrides the host's ``Context`` fields for this run (the answer's bounds).
        """
        ...

    async def messages(self, thread_id: str) -> list[dict[str, Any]]:
        """A thread's conversation."""
        ...

    async def threads_of(self, owner: str) -> int:
        """How many threads ``owner`` has (for the per-key quota)."""
        ...

    async def ready(self) -> dict[str, str | None]:
        """Readiness checks: name → None when fine, else the reason."""
        ...

    async def warm(self) -> None:
        """Load models and open the index before the first question (never raises)."""
        ...

    async def index_chunks(self) -> int | None:
        """Chunks in the index now, or None when it cannot be opened."""
        ...


def disk_full(cause: str) -> ApiError:
    """507: a write of the turn (its checkpoint) failed because the server's disk is full."""
    return ApiError(
        507,
        f"The server's disk is full ({cause}): the turn could not be stored. Retry once the "
        "operator has freed space (GET /readyz reports it).",
        "server_error",
        "disk_full",
    )


def _disk_problem(data_dir: str) -> str | None:
    """``"disk full: ..."`` when the data directory's disk has less than ``MIN_FREE_BYTES``."""
    import shutil
    from pathlib import Path

    path = Path(data_dir).expanduser()
    while not path.exists() and path != path.parent:  # the disk it would be created on
        path = path.parent
    try:
        free = shutil.disk_usage(path).free
    except OSError as exc:
        return f"disk unreadable: {type(exc).__name__}"
    if free < MIN_FREE_BYTES:
        return (
            f"disk full: {free // 1024} KiB free for the data directory (below "
            f"{MIN_FREE_BYTES // 1024} KiB); threads and ingests cannot be written"
        )
    return None


async def _readiness(
    thread_probe: Awaitable[Any], services: Services, ctx: Context
) -> dict[str, str | None]:
    """The readiness checks of either host: index, thread store (``thread_probe``) and disk."""
    try:
        await asyncio.wait_for(thread_probe, CHECK_TIMEOUT)
        threads = None
    except Exception as exc:  # noqa: BLE001 - any failure makes the server unready
        threads = f"thread store unreachable: {type(exc).__name__}"
    return {
        "index": await _index_check(services, ctx),
        "threads": threads,
        "disk": await _disk_check(ctx),
    }


async def warm_up(services: Services, ctx: Context) -> None:
    """Before the server reports ready: the embeddings, the index (opened and searched once)
    and the language identifier, each loaded once. Measured before (``python -m
    benchmarks.cold_start``): the first burst of 64 questions after a start took 17.3 s
    against 3.1 s warm, most of it every request decompressing the language model at once.
    A failure here is only logged: ``/readyz`` reports a missing or damaged index itself.
    """  # noqa: D205
    from tools.text.language import load_language_model

    def load() -> None:
        load_language_model()
        if problem := services.index_problem(ctx):
            log.warning("warm-up: %s", problem)

    try:
        await asyncio.to_thread(load)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("warm-up failed (%s); the first questions load lazily", type(exc).__name__)


async def _disk_check(ctx: Context) -> str | None:
    return await asyncio.to_thread(_disk_problem, str(ctx.data_dir))


async def _index_check(services: Services, ctx: Context) -> str | None:
    return await asyncio.to_thread(_index_problem, services, ctx)


def _index_problem(services: Services, ctx: Context) -> str | None:
    """The default workspace's index problem; none when it was simply never made while another
    workspace serves. A service fed only through ``/v1/workspaces/{name}/documents`` has no
    default index, and must still be ready, or no load balancer would let the uploads reach it.
    A damaged default index stays a problem.
    """  # noqa: D205
    problem = services.index_problem(ctx)
    if problem is None or ctx.index_backend != "lancedb":
        return problem
    from tools.index.lance import DB_DIR, META_FILE
    from tools.workspaces import list_workspaces

    home = ctx.index_dir()
    if (home / META_FILE).exists() or (home / DB_DIR).exists():
        return problem
    for name in list_workspaces(ctx.data_dir)[1:]:
        if services.index_problem(dataclasses.replace(ctx, workspace=name)) is None:
            return None
    return problem


async def _index_chunks(services: Services, ctx: Context) -> int | None:
    return await asyncio.to_thread(services.index_size, ctx)


class LocalRunner:
    """The graph compiled in this process over ``checkpointer``."""

    def __init__(self, checkpointer: Any, ctx: Context, *, checkpoints_kept: int = 1):
        """Compile a threaded and a stateless graph; backends load on first use.

        After each turn a thread keeps only its ``checkpoints_kept`` newest checkpoints
        (:func:`arag.server.checkpointers.keep_latest`); 0 keeps them all.
        """
        from graph.builder import build_graph

        self.checkpointer = checkpointer
        self.ctx = ctx
        self.checkpoints_kept = checkpoints_kept
        # One Services for both graphs and the readiness check: the index opens once.
        self.services = Services()
        self.threaded = build_graph(checkpointer=checkpointer, services=self.services)
        self.stateless = build_graph(services=self.services)
        self._busy: set[str] = set()

    async def warm(self) -> None:
        """Load what the first questions would otherwise all wait for (see :func:`warm_up`)."""
        await warm_up(self.services, self.ctx)

    def thread_id(self, requested: str) -> str:
        """Any safe string works as a checkpointer thread id."""
        return requested

    async def owner_of(self, thread_id: str) -> str | None:
        """From the latest checkpoint's metadata; threads made by ``arag ask`` are local."""
        found = await self.checkpointer.aget_tuple({"configurable": {"thread_id": thread_id}})
        if found is None:
            return None
        return (found.metadata or {}).get("owner") or LOCAL_OWNER

    async def workspace_of(self, thread_id: str) -> str:
        """From the latest checkpoint's metadata, as the owner."""
        found = await self.checkpointer.aget_tuple({"configurable": {"thread_id": thread_id}})
        return ((found.metadata if found else None) or {}).get("workspace") or DEFAULT_WORKSPACE

    async def run(
        self,
        messages: list[dict[str, Any]],
        thread_id: str | None,
        owner: str,
        context: dict[str, Any] | None = None,
    ) -> AsyncIterator[Step | Token | Final]:
        """Stream the turn's updates and reply; the owner and the workspace go into every
        checkpoint's metadata.
        """  # noqa: D205
        if thread_id is not None and thread_id in self._busy:
            raise thread_busy(thread_id)
        graph = self.threaded if thread_id else self.stateless
        workspace = (context or {}).get("workspace") or self.ctx.workspace
        config = {
            "configurable": {"thread_id": thread_id or uuid.uuid4().hex},
            "metadata": {"owner": owner, "workspace": workspace},
        }
        result = Final()
        before: str | None = None
        if thread_id:
            self._busy.add(thread_id)
        try:
            if thread_id:
                before = await latest_id(self.checkpointer, thread_id)
            async for event in stream_turn(
                graph,
                {"messages": messages},
                config,
                context=dataclasses.replace(self.ctx, **(context or {})),
            ):
                if isinstance(event, Final):
                    result = event
                else:
                    yield event
        except Exception as exc:
            if (cause := disk_full_cause(exc)) is None:
                raise
            log.error("a turn could not be stored: disk full (%s)", cause)
            raise disk_full(cause) from None
        finally:
            try:
                if thread_id:
                    # Shielded: a second cancellation (shutdown) must not stop a half-done undo.
                    await asyncio.shield(self._settle(thread_id, before, done=result.responded))
            finally:
                self._busy.discard(thread_id)
        yield _finished(result)

    async def _settle(self, thread_id: str, before: str | None, *, done: bool) -> None:
        """After a turn: trim an answered thread, or undo what an unanswered turn stored.

        A turn that did not reach ``respond`` (cut by the request timeout, cancelled with a
        non-streaming request whose client left, or failed) is rolled back to ``before``, so
        the thread never keeps a question without its answer. A failed undo is logged: the
        client already has the turn's error, and the next turn can still be answered.
        """
        if done:
            if self.checkpoints_kept:
                await self._trim(thread_id)
            return
        try:
            await roll_back(self.checkpointer, thread_id, before)
            log.info("an unanswered turn was rolled back", extra={"thread_id": thread_id})
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning(
                "could not roll back an unanswered turn (%s)",
                type(exc).__name__,
                extra={"thread_id": thread_id},
            )

    async def _trim(self, thread_id: str) -> None:
        """Keep the thread's newest checkpoints; a failure is logged, never the turn's error.

        The answer is stored by then: a prune that fails (a locked database, two processes
        pruning one PostgreSQL thread at once) only leaves older checkpoints for the next turn.
        """
        try:
            await keep_latest(self.checkpointer, thread_id, self.checkpoints_kept)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning(
                "could not prune old checkpoints (%s); retried after the next turn",
                type(exc).__name__,
                extra={"thread_id": thread_id},
            )

    async def threads_of(self, owner: str) -> int:
        """How many threads ``owner`` has stored."""
        from arag.server.checkpointers import threads_of

        return await threads_of(self.checkpointer, owner)

    async def messages(self, thread_id: str) -> list[dict[str, Any]]:
        """The checkpointed conversation."""
        state = await self.threaded.aget_state({"configurable": {"thread_id": thread_id}})
        return chat_messages(state.values.get("messages") or [])

    async def ready(self) -> dict[str, str | None]:
        """The index opens, the checkpointer answers and the disk has room."""
        probe = self.checkpointer.aget_tuple({"configurable": {"thread_id": "__readyz__"}})
        return await _readiness(probe, self.services, self.ctx)

    async def index_chunks(self) -> int | None:
        """The index's current size (it catches up with other writers on every read)."""
        return await _index_chunks(self.services, self.ctx)


class LangGraphRunner:
    """Runs through the LangGraph server this app is mounted in (in-process SDK client)."""

    def __init__(self, ctx: Context | None = None, assistant_id: str = GRAPH_ID):
        """The client is created on first use: the server's app exists only by then."""
        self.ctx = ctx or Context()
        self.assistant_id = assistant_id
        self.services = Services()
        self._client: Any = None

    @property
    def client(self) -> Any:
        """In-process client (``url=None``); ``api_key=None`` forwards no key from the env."""
        if self._client is None:
            from langgraph_sdk import get_client

            self._client = get_client(api_key=None)
        return self._client

    def thread_id(self, requested: str) -> str:
        """LangGraph thread ids are UUIDs: other names map to a stable UUID5."""
        return langgraph_thread_id(requested)

    async def owner_of(self, thread_id: str) -> str | None:
        """From the thread's metadata."""
        import httpx

        try:
            thread = await self.client.threads.get(thread_id)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 404:
                return None
            raise
        return (thread.get("metadata") or {}).get("owner") or LOCAL_OWNER

    async def workspace_of(self, thread_id: str) -> str:
        """From the thread's metadata, as the owner."""
        thread = await self.client.threads.get(thread_id)
        return (thread.get("metadata") or {}).get("workspace") or DEFAULT_WORKSPACE

    async def run(
        self,
        messages: list[dict[str, Any]],
        thread_id: str | None,
        owner: str,
        context: dict[str, Any] | None = None,
    ) -> AsyncIterator[Step | Token | Final]:
        """Create the thread if new (owned), then stream the run's updates and reply (JSON)."""
        import httpx

        workspace = (context or {}).get("workspace") or self.ctx.workspace
        if thread_id:
            await self.client.threads.create(
                thread_id=thread_id,
                metadata={"owner": owner, "workspace": workspace},
                if_exists="do_nothing",
            )
        result = Final()
        run_id: str | None = None
        try:
            async for part in self.client.runs.stream(
                thread_id,
                self.assistant_id,
                input={"messages": messages},
                stream_mode=["messages-tuple", "updates"],
                metadata={"owner": owner},
                context=context or None,
                multitask_strategy="reject",
            ):
                if part.event == "metadata" and isinstance(part.data, dict):
                    run_id = part.data.get("run_id")
                if part.event == "error":
                    message = (part.data or {}).get("message", "the run failed")
                    raise ApiError(500, f"The graph failed: {message}", "server_error", "run_error")
                if part.event == "messages" and isinstance(part.data, list) and part.data:
                    message = part.data[0]
                    if isinstance(message, dict) and message.get("type") == "AIMessageChunk":
                        if text := text_of(message):
                            yield Token(text)
                elif part.event == "updates" and isinstance(part.data, dict):
                    for node, update in part.data.items():
                        for step in result.feed(node, update):
                            yield step
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 409 and thread_id:
                raise thread_busy(thread_id) from None
            raise
        finally:
            if thread_id and run_id and not result.responded:
                await asyncio.shield(self._roll_back(thread_id, run_id))
        yield _finished(result)

    async def _roll_back(self, thread_id: str, run_id: str) -> None:
        """Cancel an unanswered run with the LangGraph API's own ``rollback`` (which deletes
        the run and what it stored), so the thread never keeps a question without its answer.
        """  # noqa: D205
        try:
            await self.client.runs.cancel(thread_id, run_id, wait=True, action="rollback")
            log.info("an unanswered run was rolled back", extra={"thread_id": thread_id})
        except Exception as exc:  # noqa: BLE001 - the client already has the turn's error
            log.warning(
                "could not roll back an unanswered run (%s)",
                type(exc).__name__,
                extra={"thread_id": thread_id},
            )

    async def threads_of(self, owner: str) -> int:
        """How many threads ``owner`` has in the LangGraph thread store."""
        return int(await self.client.threads.count(metadata={"owner": owner}))

    async def messages(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's conversation from the LangGraph thread store."""
        state = await self.client.threads.get_state(thread_id)
        return chat_messages((state.get("values") or {}).get("messages") or [])

    async def warm(self) -> None:
        """Load the shared models; the LangGraph server's graph opens its index itself."""
        await warm_up(self.services, self.ctx)

    async def ready(self) -> dict[str, str | None]:
        """The index opens, the LangGraph thread store answers and the disk has room."""
        return await _readiness(self.client.threads.search(limit=1), self.services, self.ctx)

    async def index_chunks(self) -> int | None:
        """The index's current size (it catches up with other writers on every read)."""
        return await _index_chunks(self.services, self.ctx)
