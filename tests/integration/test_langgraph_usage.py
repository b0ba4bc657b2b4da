"""Usage on the LangGraph host: /v1 on ``langgraph dev`` with a scripted provider.

A module of its own: started while test_langgraph_dev's server was up (both keep their state
in the project's ``.langgraph_api`` folder), the scripted replies ran short and the answer fell
back to the offline one; with that server stopped the run is deterministic.
"""

from __future__ import annotations

import openai
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply, _usage
from tests.serving import langgraph_dev

pytestmark = pytest.mark.integration

ALICE = "alice-key-0123456789abcdef"


def test_v1_usage_on_langgraph_sums_the_model_calls(sample_data_dir, tmp_path):
    """Usage reaches /v1 through the LangGraph run's updates stream (the run is in its worker)."""
    with FakeOpenAIServer() as fake:
        replies = [Reply.say("Tesla died in 1943 [1].") for _ in range(12)]
        fake.script(*replies)
        env = {
            "ARAG_MODEL": "openai:fake-model",
            "ARAG_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": "sk-test",
            "ARAG_API_KEYS": f"alice:{ALICE}",
        }
        with langgraph_dev(sample_data_dir, tmp_path, **env) as server:
            llm = openai.OpenAI(
                base_url=server.url + "/v1", api_key=ALICE, max_retries=0, timeout=90
            )
            chunks = list(
                llm.chat.completions.create(
                    model="adaptive-rag",
                    messages=[{"role": "user", "content": "What year did Tesla die?"}],
                    stream=True,
                    stream_options={"include_usage": True},
                )
            )
        answered = [r.body for r in fake.requests[: len(replies)]]
    expected = [_usage(reply, body) for reply, body in zip(replies, answered, strict=False)]
    assert len(expected) >= 2
    assert chunks[-1].choices == []
    final = chunks[-2].model_extra
    assert chunks[-1].usage.prompt_tokens == sum(u["prompt_tokens"] for u in expected), (
        final["mode"],
        final["flags"],
    )
    assert chunks[-1].usage.total_tokens == sum(u["total_tokens"] for u in expected)
