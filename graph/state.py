"""Graph state: the chat-facing input/output schemas and the internal working state.

Chat clients send ``messages`` and get ``messages`` back (plus the structured answer fields);
everything else (question, language, documents, grades, budget counters, the path) is internal.
Per-turn fields are reset by the first node of every turn, so a thread's earlier turn never leaks
into the next one's documents, counters or path.
"""

from __future__ import annotations

from typing import (
    Annotated,
    Literal,
    NotRequired,  # pydantic < 3.12 rejects typing's
)

from langchain_core.messages import AnyMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.ai import add_usage as lc_add_usage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from tools.index.search import Doc

__all__ = ["Doc"]  # the search record, defined below the graph so tools/text can use it

Route = Literal[
    "closed_book", "retrieval", "web", "summary", "insufficient", "invalid_input", "error"
]
"""How the final answer was produced, as a user or a dashboard would group requests."""


class Citation(TypedDict):
    """One numbered citation in the answer: ``[n]`` maps to this source."""

    n: int
    """The number used in the answer text."""
    id: str
    """Chunk id or URL."""
    title: str
    """Title of the cited document."""
    source: str
    """What to show for the document: its path under the ingest root, or the URL."""
    pages: NotRequired[list[int]]
    """The PDF pages the answer cites, in order."""
    section: NotRequired[str]
    """The section of the first cited chunk (``Install > Debian``), where there is one."""


class Step(TypedDict):
    """One entry of the path: which node ran, what it decided, and why."""

    node: str
    """Node name as Studio shows it."""
    decision: str
    """What the node decided (a route, a count, "skipped", ...)."""
    reason: str
    """Why, in one line."""


FailureKind = Literal["provider_error", "deadline", "unusable_output", "index", "web_search"]
"""What failed: the provider, the turn's deadline, the model's output, the index, the web."""


class Failure(TypedDict):
    """A step that fell back, as data: ``respond`` writes the user's notes from these records."""

    node: str
    """The node that fell back."""
    kind: FailureKind
    """What failed."""
    cause: str
    """A one-line, secret-free description, e.g. ``rate limited (HTTP 429, RateLimitError)``."""


class Confidence(TypedDict, total=False):
    """The retrieve-or-not decision of ``check_confidence``."""

    decision: Literal["retrieve", "summarize", "closed_book", "web", "error"]
    """Where the graph goes next."""
    probe_score: float
    """Best calibrated score of the corpus probe (0 when the index is unavailable)."""
    model_confidence: float | None
    """The model's confidence in its closed-book answer; None when it was not asked."""
    method: str | None
    """How that confidence was measured: logprobs, verbalized, none; None when not asked."""
    reason: str
    """Why, in one line (for people; nodes read the fields above)."""


class Check(TypedDict, total=False):
    """The verdict of ``check_answer`` on the latest draft."""

    grounded: bool
    """Every claim is supported by the documents it cites."""
    useful: bool
    """The answer addresses the question."""
    cited: bool
    """The answer cites at least one of the documents (False: ``respond`` replaces it)."""
    unsupported: list[str]
    """The claims found unsupported."""
    reason: str
    """Why, in one line."""


NEW_TURN = "__new_turn__"
"""First item of a list a node returns for ``path``, ``flags`` or ``failures``: the list starts a
new turn, so the reducer drops what earlier turns left. A plain JSON string, so the ``updates``
stream carries plain lists (as ``add_messages`` does with ``REMOVE_ALL_MESSAGES``)."""


def new_turn(items: list) -> list:
    """``items`` as the first records of a turn: ``[NEW_TURN, *items]``."""
    return [NEW_TURN, *items]


def _items(right: list | dict | str | None) -> tuple[bool, list]:
    """Whether ``right`` starts a new turn, and its records (the marker removed)."""
    if right is None:
        return False, []
    if isinstance(right, dict | str):
        return right == NEW_TURN, [] if right == NEW_TURN else [right]
    if right and right[0] == NEW_TURN:
        return True, list(right[1:])
    return False, list(right)


def _append(left: list | None, right: list | dict | None) -> list:
    """``left`` plus ``right`` (one record or a list of them), as a new list."""
    reset, items = _items(right)
    return [*([] if reset else left or []), *items]


def append_steps(left: list[Step] | None, right: list[Step] | Step | None) -> list[Step]:
    """Reducer for ``path``: append new steps; ``new_turn([...])`` starts the list afresh."""
    return _append(left, right)


def append_failures(
    left: list[Failure] | None, right: list[Failure] | Failure | None
) -> list[Failure]:
    """Reducer for ``failures``: append new records; ``new_turn([])`` resets them."""
    return _append(left, right)


def merge_flags(left: list[str] | None, right: list[str] | str | None) -> list[str]:
    """Reducer for ``flags``: ordered union (a warning raised twice is shown once); ``new_turn``
    starts it afresh.
    """  # noqa: D205
    reset, items = _items(right)
    merged = [] if reset else list(left or [])
    for flag in items:
        if flag not in merged:
            merged.append(flag)
    return merged


def add_usage(left: UsageMetadata | None, right: UsageMetadata | None) -> UsageMetadata:
    """Reducer for ``usage``: token counts summed (langchain_core's ``add_usage``)."""
    return lc_add_usage(left, right)


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
    usage: Annotated[UsageMetadata, add_usage]
    """Tokens the thread's model calls used, summed over its turns; each node's update carries
    its own calls' (output state, since the LangGraph API streams only output fields)."""


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
    confidence: Confidence
    """The retrieve-or-not decision."""
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
    check: Check
    """The latest answer check."""
    failures: Annotated[list[Failure], append_failures]
    """Steps that fell back this turn, as typed records (``respond`` turns them into notes)."""
    index_error: str
    """Why the index cannot be searched this turn (empty when it can)."""
    dropped_references: int
    """Document numbers the grader named that were never offered, dropped this turn."""
    translation_doubtful: bool
    """The translation looked wrong (empty, an echo, the wrong language, or matching the corpus
    far worse than the question as written): the original is searched too."""
    turn_started: float
    """When this turn began (Unix time): LLM calls stop at ``request_deadline`` after it."""
    reply_id: str
    """This turn's reply message id: the streamed sentences and the final message share it."""
    released: str
    """The part of the current draft already streamed to the user (sentences that verified
    against their citations): final, so ``respond`` keeps it and no draft replaces it."""
