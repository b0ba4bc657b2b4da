"""Token counting per block: every call inside is summed, nothing outside, no hook leak."""

import asyncio

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tracers import context as tracer_context

from tools.llm.usage import counting_usage, total_usage


def model(*tokens: tuple[int, int]) -> GenericFakeChatModel:
    replies = [
        AIMessage(
            "ok",
            usage_metadata={"input_tokens": i, "output_tokens": o, "total_tokens": i + o},
            response_metadata={"model_name": "fake"},  # the handler keys usage by model
        )
        for i, o in tokens
    ]
    return GenericFakeChatModel(messages=iter(replies))


async def test_calls_inside_the_block_are_summed_and_others_are_not():
    llm = model((3, 1), (5, 2), (100, 100))
    with counting_usage() as counted:
        await llm.ainvoke("a")
        await asyncio.gather(asyncio.to_thread(llm.invoke, "b"))  # a thread it starts counts
    await llm.ainvoke("outside")
    assert total_usage(counted) == {"input_tokens": 8, "output_tokens": 3, "total_tokens": 11}


def test_no_call_is_no_usage_and_blocks_register_no_new_hooks():
    hooks = len(tracer_context._configure_hooks)
    for _ in range(50):
        with counting_usage() as counted:
            pass
    assert total_usage(counted) is None
    assert len(tracer_context._configure_hooks) == hooks
