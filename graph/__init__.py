"""The adaptive RAG graph: state, configuration, prompts, routing, services and the builder.

``build_graph(...)`` returns a compiled graph; ``graph`` is the module-level instance that
``langgraph.json`` points at. Both load lazily (PEP 562), so importing ``graph.config`` or
``graph.state`` compiles nothing and imports no node.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_graph", "graph"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from graph import builder

        return getattr(builder, name)
    raise AttributeError(f"module 'graph' has no attribute {name!r}")
