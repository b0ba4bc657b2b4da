"""The thread pool that runs the graph's sync nodes: wide enough for requests waiting on an LLM.

The graph's nodes are sync functions (their LLM calls block in the provider SDK). Under
``ainvoke``/``astream`` LangGraph runs each in the event loop's default executor, which asyncio
sizes at min(32, CPUs + 4) threads: 6 on a 2-core machine. A node waiting ~300 ms for its LLM
call holds one of them, so at most 6 LLM calls were in flight however many clients the server
had, and the rest queued (``make bench-serve``, the simulated-LLM row). ``arag serve`` installs
a pool of ``ServerSettings.graph_threads`` (``ARAG_GRAPH_THREADS``, default 256) instead; idle
threads cost nothing, ``ThreadPoolExecutor`` starts them only when all are busy.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor


def use_graph_executor(threads: int) -> ThreadPoolExecutor:
    """Make a pool of ``threads`` the running loop's default executor, and return it.

    Call from inside the loop (an app's lifespan); ``asyncio.run`` and uvicorn shut the
    default executor down when the loop closes.
    """
    if threads < 1:
        raise ValueError(f"the graph needs at least one thread, got {threads}")
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="arag-graph")
    asyncio.get_running_loop().set_default_executor(pool)
    return pool
