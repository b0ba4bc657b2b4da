"""The app as ``langgraph.json``'s ``http.app``: threads live in the LangGraph server's store.

Requests to ``/v1`` check the bearer key here (the same ``ARAG_API_KEYS`` that
``langgraph_auth`` uses for the LangGraph routes) and run through the in-process SDK client.
The app's middleware wraps the LangGraph routes too: ``ThreadIdPaths`` lets a ``/threads/{id}``
path name a thread by any string (``RemoteGraph`` sends its parent graph's thread id there).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from arag.server.app import create_app
from arag.server.runner import LangGraphRunner, Runner
from arag.server.settings import ServerSettings
from arag.server.thread_ids import ThreadIdPaths


@asynccontextmanager
async def _open_runner() -> AsyncIterator[Runner]:
    yield LangGraphRunner()


app = create_app(ServerSettings.from_env(), _open_runner)
app.add_middleware(ThreadIdPaths)
