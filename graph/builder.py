"""Wiring: the whole flow on one screen; ``graph`` is the instance langgraph.json serves.

START → condense_question → translate_question ∥ probe_corpus → check_confidence
    (same language as the corpus: translation and corpus probe run concurrently;
     otherwise translate_question → probe_corpus, since the probe needs the translation)
check_confidence → retrieve_documents | summarize_documents | web_search | respond (closed book)
retrieve_documents → grade_documents → generate_answer | rewrite_query | web_search | respond
rewrite_query → retrieve_documents            (at most max_rewrites times)
web_search → generate_answer
generate_answer → check_answer | respond
check_answer → respond | generate_answer (not grounded) | rewrite_query (not useful)
summarize_documents → respond              (a request to summarize whole documents)
respond → END
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, get_type_hints

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer

from graph import routing
from graph.config import Context
from graph.services import _UNSET, Services
from graph.state import InputState, OutputState, State
from graph.tracing import annotate_node_run
from nodes.check import check_answer
from nodes.condense import condense_question
from nodes.confidence import check_confidence, probe_corpus
from nodes.generate import generate_answer
from nodes.grade import grade_documents
from nodes.respond import respond
from nodes.retrieve import retrieve_documents
from nodes.rewrite import rewrite_query
from nodes.summarize import summarize_documents
from nodes.translate import translate_question
from nodes.web_search import web_search
from tools.index.base import HybridIndex
from tools.llm.usage import counting_usage, total_usage
from tools.web_search import WebSearch

NodeFn = Callable[[State, Context, Services], Awaitable[dict]]


def _bind(fn: NodeFn, services: Services) -> Callable[[State, Runtime[Context]], Awaitable[dict]]:
    """Adapt ``fn(state, ctx, services)`` to LangGraph's ``(state, runtime)`` node signature.

    The node's model calls are counted by langchain_core's usage callback handler
    (``tools.llm.usage``); their tokens go into the update as ``usage``, so every host reads a
    turn's usage from its ``updates`` stream.
    A single step, flag or failure record is returned as a one-item list, so the stream always
    carries lists for those fields. The node sees the thresholds of the run's workspace as
    its corpus probe read them (``Services.workspace_context``).
    """

    async def node(state: State, runtime: Runtime[Context]) -> dict:
        ctx = Context.resolve(runtime.context)
        ctx = services.workspace_context(ctx)
        with counting_usage() as counted:
            update = await fn(state, ctx, services)
        if usage := total_usage(counted):
            update = update | {"usage": usage}
        update = _as_lists(update)
        annotate_node_run(fn.__name__, state, update, ctx, services)  # no-op unless traced
        return update

    # Not functools.wraps: LangGraph reads the signature (through __wrapped__) to inject runtime.
    node.__name__, node.__qualname__, node.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return node


LIST_FIELDS = ("path", "flags", "failures")


def _as_lists(update: dict) -> dict:
    """``update`` with a lone record of a list field as a one-item list."""
    lone = {k: [v] for k in LIST_FIELDS if isinstance(v := update.get(k), dict | str)}
    return update | lone if lone else update


def _route(route: Callable[..., str]) -> Callable[..., Awaitable[str]]:
    """Adapt a routing function to an async LangGraph edge, with the run's settings if it asks.

    Async so that LangGraph calls it on the event loop: it sends a sync edge function to a
    worker thread on every call, a thread hop per edge for a function that only reads a few
    state fields. Routing functions that take a second argument get the resolved ``Context``.
    """
    takes_context = len(inspect.signature(route).parameters) > 1

    async def router(state: State, runtime: Runtime[Context]) -> str:
        if takes_context:
            return route(state, Context.resolve(runtime.context))
        return route(state)

    # LangGraph draws the possible destinations from the return annotation (a Literal).
    router.__name__ = route.__name__
    router.__annotations__ = {
        "state": State,
        "runtime": Runtime[Context],
        "return": get_type_hints(route)["return"],
    }
    return router


def build_graph(
    *,
    chat_model: BaseChatModel | None | Any = _UNSET,
    embeddings: Embeddings | None = None,
    index: HybridIndex | None = None,
    web_search_backend: WebSearch | None = None,
    checkpointer: Checkpointer = None,
    name: str = "adaptive_rag",
    services: Services | None = None,
):
    """Compile the adaptive RAG graph.

    Args:
        chat_model: a LangChain chat model to use for every LLM step; ``None`` forces offline
            mode; omitted, the model comes from ``Context.model`` / the environment per run.
        embeddings: embeddings matching the index; omitted, from ``Context.embeddings``.
        index: a ``HybridIndex``; omitted, the embedded index in ``Context.data_dir``.
        web_search_backend: a ``WebSearch``; omitted, from ``Context.web_search``.
        checkpointer: a LangGraph checkpointer for multi-turn threads (``langgraph dev`` and the
            LangGraph API bring their own).
        name: the compiled graph's name, shown in Studio and traces.
        services: the backends themselves, instead of the four arguments above: graphs that
            share one ``Services`` share its opened index (``arag serve``'s threaded and
            stateless graphs, and its readiness check).

    Returns:
        A compiled graph taking ``{"messages": [...]}`` and ``context=Context(...)`` (or a dict).
        Its nodes are async: run it with ``ainvoke`` / ``astream`` (``arag.turn`` does).

    """
    if services is None:
        services = Services(
            chat_model=chat_model, embeddings=embeddings, index=index, web_search=web_search_backend
        )
    elif (chat_model, embeddings, index, web_search_backend) != (_UNSET, None, None, None):
        raise TypeError("pass either services or the backends it holds, not both")
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    for fn in (
        condense_question,
        translate_question,
        probe_corpus,
        check_confidence,
        retrieve_documents,
        grade_documents,
        rewrite_query,
        summarize_documents,
        web_search,
        generate_answer,
        check_answer,
        respond,
    ):
        builder.add_node(fn.__name__, _bind(fn, services))

    builder.add_edge(START, "condense_question")
    builder.add_conditional_edges(
        "condense_question",
        _route(routing.after_condense),
        ["translate_question", "probe_corpus", "respond"],
    )
    builder.add_conditional_edges("translate_question", _route(routing.after_translation))
    # After a concurrent step both edges point here; LangGraph runs check_confidence once.
    builder.add_edge("probe_corpus", "check_confidence")
    builder.add_conditional_edges("check_confidence", _route(routing.after_confidence))
    builder.add_edge("retrieve_documents", "grade_documents")
    builder.add_conditional_edges("grade_documents", _route(routing.after_grading))
    builder.add_edge("rewrite_query", "retrieve_documents")
    builder.add_edge("summarize_documents", "respond")
    builder.add_edge("web_search", "generate_answer")
    builder.add_conditional_edges("generate_answer", _route(routing.after_generation))
    builder.add_conditional_edges("check_answer", _route(routing.after_check))
    builder.add_edge("respond", END)
    return builder.compile(checkpointer=checkpointer, name=name)


graph = build_graph()
"""The graph ``langgraph.json`` serves: backends resolved per run from its context."""
