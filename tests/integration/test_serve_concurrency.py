"""``arag serve`` overlaps requests that wait on the LLM instead of queueing them.

When the graph's nodes were sync, LangGraph ran them in the event loop's default executor, and
asyncio's default pool (min(32, CPUs + 4) threads) capped the LLM calls in flight server-wide.
The nodes are async now; many concurrent clients against the benchmark's LLM stub must get more
calls in flight than that cap.
"""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from arag.server.app import local_app
from arag.server.openai_api import MODEL_ID
from arag.server.settings import ServerSettings
from benchmarks.graph.counting_model import Latency
from benchmarks.serve.llm_stub import running_stub
from graph.config import Context
from tests.serving import copy_index

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_provider_env")]

ASYNCIO_DEFAULT_THREADS = min(32, (os.cpu_count() or 1) + 4)


async def test_llm_calls_of_concurrent_requests_overlap_beyond_the_default_pool(
    sample_data_dir, tmp_path
):
    clients = ASYNCIO_DEFAULT_THREADS + 6
    data = copy_index(sample_data_dir, tmp_path / "data")
    with running_stub(Latency(base_ms=800, per_100_tokens_ms=0)) as stub:
        ctx = Context(
            data_dir=str(data), model="openai:stub", base_url=stub.base_url, web_search="none"
        )
        app = local_app(ServerSettings(), ctx)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", timeout=60
            ) as client:

                async def ask(question: str) -> dict:
                    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": question}]}
                    reply = await client.post("/v1/chat/completions", json=body)
                    assert reply.status_code == 200, reply.text
                    return reply.json()

                await ask("What year did Tesla die?")  # load the index and the embeddings
                stub.stats.reset()
                answers = await asyncio.gather(
                    *(ask("What year did Tesla die?") for _ in range(clients))
                )
    # Every client got the LLM's cited answer through the retrieval route...
    assert all(a["route"] == "retrieval" for a in answers), {a["route"] for a in answers}
    assert all("[1]" in a["choices"][0]["message"]["content"] for a in answers)
    # ...and their LLM calls were in flight together, not ASYNCIO_DEFAULT_THREADS at a time.
    assert stub.stats.calls >= 3 * clients
    assert stub.stats.peak_in_flight > ASYNCIO_DEFAULT_THREADS
