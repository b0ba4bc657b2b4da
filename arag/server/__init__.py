"""Serving: one FastAPI app (OpenAI-compatible ``/v1`` chat and Responses, health), two hosts.

``arag serve`` runs it with uvicorn over a compiled graph and a SQLite or PostgreSQL
checkpointer (``runner.LocalRunner``); ``langgraph dev`` / the LangGraph API mount it through
``langgraph.json``'s ``http.app`` (``langgraph_app``), where threads live in the LangGraph server's
own thread store (``runner.LangGraphRunner``).
"""
