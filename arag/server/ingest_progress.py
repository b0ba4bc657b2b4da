"""An ingest's progress as server-sent events, for ``POST .../documents`` with
``Accept: text/event-stream``.

One ``progress`` event per file as the pipeline finishes it (``{"done", "total", "name"}``),
then one ``result`` event holding the body the request would have returned, or one ``error``
event in OpenAI's error format (another ingest holds the workspace, an index error). The
request is checked (grants, form, types) before the stream starts, so those errors keep their
HTTP status. A client that goes away does not stop the ingest: it finishes under its lock.
"""  # noqa: D205

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from sse_starlette.event import ServerSentEvent

from arag.server.errors import ApiError

Progress = Callable[[int, int, str], None]
"""``(done, total, name)``, called from the ingest's worker thread after each file."""


def wants_events(accept: str) -> bool:
    """Whether an ``Accept`` header asks for the event stream."""
    return "text/event-stream" in accept.lower()


def _event(kind: str, data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(data, ensure_ascii=False), event=kind, sep="\n")


async def progress_events(run: Callable[[Progress], dict[str, Any]]) -> AsyncIterator[Any]:
    """Run ``run(progress)`` in a worker thread; yield its progress, then its result or error."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def progress(done: int, total: int, name: str) -> None:
        item = {"object": "ingest.progress", "done": done, "total": total, "name": name}
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> dict[str, Any]:
        try:
            return run(progress)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)  # after the last progress

    task = asyncio.ensure_future(asyncio.to_thread(work))
    # A client gone mid-stream leaves the task to finish; its outcome is then nobody's.
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    while (item := await queue.get()) is not None:
        yield _event("progress", item)
    try:
        result = await task
    except ApiError as exc:
        yield _event("error", exc.body())
        return
    yield _event("result", result)
