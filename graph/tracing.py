"""LangSmith trace annotations: tags and metadata on each node's run.

LangGraph already names every node's run after the node (``check_confidence``, ``web_search``,
...) and the graph's root run after the compiled graph (``adaptive_rag``). After a node returns,
:func:`annotate_node_run` adds what a trace reader filters on:

* tags ``route:<route>`` and ``provider:<openai|groq|...|offline>``;
* metadata ``thread_id``, ``language`` (the user's), ``decision`` (the node's path step), and
  for the confidence check ``confidence`` (decision, model confidence, probe score);

and on ``respond`` copies route, provider, language and flags to the root run, so whole traces
can be filtered by route in LangSmith. Tracing is enabled the usual way
(``LANGSMITH_TRACING=true`` + ``LANGSMITH_API_KEY``); without a tracer this costs one
context-variable lookup per node.
"""

from __future__ import annotations

from typing import Any

from graph.config import Context


def _current_run() -> Any:
    """The run tree of the node being executed, when a LangSmith tracer records it."""
    from langsmith.run_helpers import get_current_run_tree

    return get_current_run_tree()


def provider_name(services: Any, ctx: Context) -> str:
    """``openai``, ``groq``, ... for the run's chat model; ``offline`` without one."""
    try:
        model = services.llm(ctx)
    except Exception:  # a misconfigured model fails its own node visibly; a tag is not worth it
        return "unknown"
    if model is None:
        return "offline"
    from tools.llm.chat_models import provider_of

    return provider_of(model)


def node_annotations(
    node: str, state: dict, update: dict, provider: str, thread_id: str | None
) -> tuple[list[str], dict[str, Any]]:
    """Tags and metadata for ``node``'s run, from the state as the node leaves it."""
    merged = {**state, **{k: v for k, v in update.items() if not k.startswith("__")}}
    tags = [f"provider:{provider}"]
    if merged.get("route"):
        tags.append(f"route:{merged['route']}")
    metadata: dict[str, Any] = {"arag_node": node}
    if thread_id:
        metadata["thread_id"] = thread_id
    if merged.get("user_language"):
        metadata["language"] = merged["user_language"]
    step = update.get("path")
    if isinstance(step, list):  # new_turn([...]) puts its marker first; the step is last
        step = step[-1] if step else None
    if isinstance(step, dict):
        metadata["decision"] = step.get("decision")
    confidence = merged.get("confidence")
    if confidence:
        metadata["confidence"] = {
            k: confidence.get(k) for k in ("decision", "model_confidence", "probe_score", "method")
        }
    return tags, metadata


def annotate_node_run(node: str, state: dict, update: dict, ctx: Context, services: Any) -> None:
    """Tag the current node's run (and, on ``respond``, the root run) when tracing is on."""
    run = _current_run()
    if run is None:
        return
    from langgraph.config import get_config

    try:
        config = get_config()
    except RuntimeError:  # called outside a graph run
        config = {}
    thread_id = (config.get("configurable") or {}).get("thread_id")
    tags, metadata = node_annotations(
        node, state, update, provider_name(services, ctx), thread_id and str(thread_id)
    )
    run.add_tags([t for t in tags if t not in (run.tags or [])])
    run.add_metadata(metadata)
    if node == "respond":
        root = _root_run(config, run)
        if root is not None and root is not run:
            root.add_tags([t for t in tags if t not in (root.tags or [])])
            flags = update.get("flags")
            flags = list(getattr(flags, "value", flags) or [])
            root.add_metadata(
                {k: v for k, v in metadata.items() if k in ("thread_id", "language")}
                | {"route": update.get("route"), "flags": flags}
            )


def _root_run(config: dict, run: Any) -> Any:
    """The trace's root run, looked up in the tracer that records ``run``."""
    from langchain_core.tracers.langchain import LangChainTracer

    callbacks = config.get("callbacks")
    for handler in getattr(callbacks, "handlers", None) or []:
        if isinstance(handler, LangChainTracer):
            return handler.run_map.get(str(run.trace_id))
    return None
