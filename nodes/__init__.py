"""One module per stage of the graph. Each node is ``fn(state, ctx, services) -> update``.

The builder in ``graph/builder.py`` adapts them to LangGraph's ``(state, runtime)`` signature, so
nodes stay plain functions that tests can call directly.
"""
