"""One module per node of the graph. Each node is ``async fn(state, ctx, services) -> update``.

The builder in ``graph/builder.py`` adapts them to LangGraph's ``(state, runtime)`` signature, so
nodes stay plain coroutines that tests can await directly. ``common.py`` holds what they share,
above all :func:`nodes.common.ask_model`, the one way a node calls its model.
"""
