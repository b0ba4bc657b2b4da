"""Graph state: the chat-facing input/output schemas and the internal working state.

Chat clients send ``messages`` and get ``messages`` back (plus the structured answer fields);
everything else (question, language, documents, grades, budget counters, the path) is internal.
Per-turn fields are reset by the first node of every turn, so a thread's earlier turn never leaks
into the next one's documents, counters or path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict  # pydantic on Python < 3.12 rejects typing.TypedDict

Route = Literal["closed_book", "retrieval", "web", "insufficient", "invalid_input", "error"]
"""How the final answer was produced, as a user or a dashboard would group requests."""


class Doc(TypedDict):
    """A retrieved chunk or web result, JSON-friendly so Studio and the API can show it."""

    id: str
    """Stable chunk id (``source#n``) or the URL of a web result."""
    content: str
    """The chunk text."""
    source: str
    """File path or URL the chunk came from."""
    title: str
    """Document title, shown in citations."""
    score: float
    """Calibrated relevance in [0, 1] (1.0 for web results, which carry no comparable score)."""


class Citation(TypedDict):
    """One numbered citation in the answer: ``[n]`` maps to this source."""

    n: int
    """The number used in the answer text."""
    id: str
    """Chunk id or URL."""
    title: str
    """Title of the cited document."""
    source: str
    """File path or URL of the cited document."""


class Step(TypedDict):
    """One entry of the path: which node ran, what it decided, and why."""

    node: str
    """Node name as Studio shows it."""
    decision: str
    """What the node decided (a route, a count, "skipped", ...)."""
    reason: str
    """Why, in one line."""


def append_steps(left: list[Step] | None, right: list[Step] | Step | None) -> list[Step]:
    """Reducer for ``path``: append new steps; a node resets the list with ``Overwrite([...])``."""
    if right is None:
        return list(left or [])
    new = [right] if isinstance(right, dict) else list(right)
    return [*(left or []), *new]


def merge_flags(left: list[str] | None, right: list[str] | str | None) -> list[str]:
    """Reducer for ``flags``: ordered union, so a warning raised twice is shown once."""
    merged = list(left or [])
    for flag in [right] if isinstance(right, str) else (right or []):
        if flag not in merged:
            merged.append(flag)
    return merged


class InputState(TypedDict):
    """What a chat client sends."""

    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation; the last human message is the question."""


class OutputState(TypedDict, total=False):
    """What a client gets back: the appended AI message plus the structured answer."""

    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation, with the answer appended as an AI message carrying its citations."""
    answer: str
    """The answer text in the user's language, with ``[n]`` citation markers."""
    citations: list[Citation]
    """The sources behind each ``[n]`` marker."""
    route: Route
    """How the answer was produced."""
    mode: Literal["llm", "offline"]
    """``offline`` when no chat model is configured (extractive answers)."""
    flags: Annotated[list[str], merge_flags]
    """Warnings a user should see: not_grounded, insufficient, translation_skipped, ..."""
    path: Annotated[list[Step], append_steps]
    """Every step taken this turn, with its decision and reason."""


class State(InputState, OutputState, total=False):
    """The working state. Fields below are internal to the graph."""

    question: str
    """This turn's standalone question, in the user's language."""
    user_language: str
    """ISO 639-1 code of the question's language; the answer is written in it."""
    corpus_language: str
    """ISO 639-1 code the index records for its corpus."""
    retrieval_query: str
    """The question in the corpus language, used for search."""
    queries: list[str]
    """Query variants used by the latest retrieval (after rewrites)."""
    probe_score: float
    """Best calibrated score of the corpus probe (no LLM); strong means "retrieve, do not ask"."""
    confidence: dict[str, Any]
    """The retrieve-or-not decision: decision, probe_score, model_confidence, method, reason."""
    candidate_answer: str
    """Closed-book answer kept when the model was moderately confident."""
    documents: list[Doc]
    """The latest retrieved (or web) documents, best first."""
    relevant_ids: list[str]
    """Ids of documents the grader judged relevant."""
    rewrites: int
    """Query rewrites spent this turn (bounded by ``max_rewrites``)."""
    generations: int
    """Answer drafts written this turn (bounded by ``max_generations``)."""
    web_searched: bool
    """Whether the web fallback already ran this turn."""
    check: dict[str, Any]
    """The latest answer check: grounded, useful, reason, unsupported."""
    turn_started: float
    """When this turn began (Unix time): LLM calls stop at ``request_deadline`` after it."""
