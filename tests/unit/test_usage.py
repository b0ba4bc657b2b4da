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


async def test_counting_runs_on_the_event_loop_not_in_a_worker_thread(monkeypatch):
    # A sync handler is otherwise sent to a worker thread for each callback event.
    loop = asyncio.get_running_loop()
    hops = []
    original = loop.run_in_executor
    monkeypatch.setattr(loop, "run_in_executor", lambda *a: hops.append(a) or original(*a))
    llm = model((3, 1), (5, 2))
    with counting_usage() as counted:
        await llm.ainvoke("a")
        await llm.ainvoke("b")
    assert total_usage(counted) == {"input_tokens": 8, "output_tokens": 3, "total_tokens": 11}
    # Two hops: the fake model's own sync generation, one per call; none for the counting
    # (which added three per call: its start event, the on_llm_start fallback, its end).
    assert len(hops) == 2


def test_every_conditional_edge_is_async():
    # LangGraph sends a sync edge function to a worker thread on every call.
    from graph.builder import build_graph

    branches = build_graph(chat_model=None).builder.branches
    paths = [spec.path for specs in branches.values() for spec in specs.values()]
    assert len(paths) == 6
    assert all(p.func is None and asyncio.iscoroutinefunction(p.afunc) for p in paths)
