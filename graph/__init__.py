"""The adaptive RAG graph: state, configuration, prompts, routing and the builder.

``build_graph(...)`` returns a compiled graph; ``graph`` is the module-level instance that
``langgraph.json`` points at.
"""

from graph.builder import build_graph, graph

__all__ = ["build_graph", "graph"]
