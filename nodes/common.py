"""Helpers shared by the nodes: path steps, document formatting and LLM-error degradation."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from langchain_core.runnables import RunnableConfig

from graph.state import Doc, Step

log = logging.getLogger("arag")


def step(node: str, decision: str, reason: str) -> Step:
    """One path entry."""
    return {"node": node, "decision": decision, "reason": reason}


def llm_config(node: str, **metadata: Any) -> RunnableConfig:
    """Config for an LLM call made by ``node``: a clear run name, tags and metadata.

    The run is named ``<node>.llm`` so a trace shows it as the node's model call, not as a
    second run with the node's own name. The ``arag:<node>`` tag tells scripted test models
    (and trace filters) which step is calling; ``metadata`` (language, draft, ...) is attached
    to the model's run.
    """
    return {
        "run_name": f"{node}.llm",
        "tags": ["arag", f"arag:{node}"],
        "metadata": {"arag_node": node, **metadata},
    }


def provider_errors() -> tuple[type[BaseException], ...]:
    """Transport and provider errors that make a node fall back instead of failing the run.

    Malformed structured output never raises (``tools.structured`` repairs or reports it); these
    are the errors left once the client's own bounded retries are spent.
    """
    import groq
    import openai

    # Some faults escape the SDKs unwrapped: a 200 with a broken JSON body raises
    # json.JSONDecodeError, a truncated Groq stream raises httpx.RemoteProtocolError.
    return (
        openai.APIError,
        groq.APIError,
        httpx.HTTPError,
        json.JSONDecodeError,
        TimeoutError,
        ConnectionError,
    )


def describe_error(exc: BaseException) -> str:
    """A one-line, secret-free description of a provider error."""
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    return f"{kind} (HTTP {status})" if status else kind


def number_documents(docs: list[Doc] | list[tuple[int, Doc]]) -> str:
    """Documents as numbered, delimited data blocks for a prompt.

    Plain documents are numbered 1, 2, ...; ``(n, doc)`` pairs keep their own numbers (the
    checker sees only the cited documents, under the numbers the answer cites).
    """
    numbered = [item if isinstance(item, tuple) else (i, item) for i, item in enumerate(docs, 1)]
    return "\n".join(
        f'<document n="{n}" title="{d["title"]}">\n{d["content"]}\n</document>'
        for n, d in numbered
    )


def relevant_documents(state: dict) -> list[Doc]:
    """The documents the grader kept, in retrieval order."""
    keep = set(state.get("relevant_ids") or [])
    return [d for d in state.get("documents") or [] if d["id"] in keep]
