"""The six scenarios (a-f) and the scripted decisions that make both graphs decide alike.

A decision is scripted per *kind* (is this document relevant? is this draft grounded?), not per
call, so each graph asks in its own way and gets the same answer: our grader sees all documents
in one call, the tutorial's grader sees one per call, and both are told "relevant" for exactly the
documents that contain one of the scenario's ``relevant_terms``. Documents come from the real
index, so which ones are relevant depends on what each graph actually retrieved.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from langchain_core.messages import BaseMessage

from benchmarks.graph.counting_model import Reply
from tools.text.language import insufficient_message
from tools.web_search import WebResult

_DOCUMENT = re.compile(r'<document n="(\d+)"[^>]*>(.*?)</document>', re.DOTALL)
_ONE_DOCUMENT = re.compile(r"Retrieved document:(.*)User question:", re.DOTALL)


@dataclass(frozen=True)
class Scenario:
    """One question with the decisions both graphs get for it."""

    key: str
    """Letter from the issue: a-f."""
    title: str
    """What the scenario exercises."""
    question: str
    """The user's question."""
    relevant_terms: tuple[str, ...] = ()
    """A document is graded relevant iff it contains one of these (case-insensitive)."""
    irrelevant_rounds: int = 0
    """Grading rounds (before that many rewrites) in which nothing counts as relevant."""
    closed_book: tuple[str, float] = ("UNKNOWN", 0.0)
    """Our closed-book answer and its verbalized confidence."""
    translation: str = ""
    """Our translation of the question into the corpus language (if one is asked for)."""
    rewrite: str = ""
    """The rewritten query both graphs get."""
    answers: tuple[str, ...] = ("",)
    """Answer drafts in order; the last one repeats."""
    grounded: tuple[bool, ...] = (True,)
    """Whether each draft is grounded; the last value repeats."""
    useful: tuple[bool, ...] = (True,)
    """Whether each draft answers the question; the last value repeats."""
    baseline_route: str = "vectorstore"
    """The tutorial router's decision: ``vectorstore`` or ``web_search``."""
    web_results: tuple[WebResult, ...] = ()
    """What the (simulated) web search returns."""
    expected_route: str = "retrieval"
    """The route our graph should end on."""
    baseline_note: str = ""
    """How the scenario maps onto the tutorial design."""


@dataclass
class Script:
    """Per-run responder for :class:`~benchmarks.graph.counting_model.CountingChatModel`."""

    scenario: Scenario
    counts: Counter = field(default_factory=Counter)

    def __call__(self, node: str, messages: list[BaseMessage]) -> Reply:
        """The scripted reply to ``node``'s call (ours or the baseline's)."""
        self.counts[node] += 1
        s = self.scenario
        human = str(messages[-1].content) if messages else ""
        match node:
            case "condense_question":
                return s.question
            case "translate_question":
                return s.translation or s.question
            case "check_confidence":
                answer, confidence = s.closed_book
                return {"answer": answer, "confidence": confidence}
            case "route_question":
                return {"datasource": s.baseline_route}
            case "grade_documents":
                relevant = [
                    int(n) for n, text in _DOCUMENT.findall(human) if self._is_relevant(text)
                ]
                return {"relevant": relevant, "reason": "scripted"}
            case "grade_document":
                match_ = _ONE_DOCUMENT.search(human)
                relevant = bool(match_) and self._is_relevant(match_.group(1))
                return {"binary_score": "yes" if relevant else "no"}
            case "rewrite_query":
                return {"queries": [s.rewrite or s.question]}
            case "transform_query":
                return s.rewrite or s.question
            case "generate_answer" | "generate":
                return _nth(s.answers, self.counts[node])
            case "check_answer":
                draft = self.counts["generate_answer"]
                return {
                    "grounded": _nth(s.grounded, draft),
                    "useful": _nth(s.useful, draft),
                    "unsupported": [],
                    "reason": "scripted",
                }
            case "grade_hallucination":
                return {
                    "binary_score": "yes" if _nth(s.grounded, self.counts["generate"]) else "no"
                }
            case "grade_answer":
                return {"binary_score": "yes" if _nth(s.useful, self.counts["generate"]) else "no"}
        raise AssertionError(f"no scripted decision for node {node!r}")

    def _is_relevant(self, text: str) -> bool:
        grading_round = self.counts["rewrite_query"] + self.counts["transform_query"] + 1
        if grading_round <= self.scenario.irrelevant_rounds:
            return False
        low = text.lower()
        return any(term.lower() in low for term in self.scenario.relevant_terms)


def _nth(values: tuple, n: int):
    """The ``n``-th value (1-based); the last value repeats."""
    return values[min(max(n, 1), len(values)) - 1]


AUSTEN = WebResult(
    "Pride and Prejudice - Wikipedia",
    "https://en.wikipedia.org/wiki/Pride_and_Prejudice",
    "Pride and Prejudice is an 1813 novel of manners written by Jane Austen.",
)
NO_COLOUR = WebResult(
    "Nikola Tesla - trivia",
    "https://example.org/tesla-trivia",
    "Tesla worked long hours and slept little; he was fascinated by pigeons.",
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        key="a",
        title="confident closed-book",
        question="Who wrote the novel Pride and Prejudice?",
        relevant_terms=("Austen",),
        closed_book=("Jane Austen wrote Pride and Prejudice (1813).", 0.95),
        answers=("Jane Austen wrote Pride and Prejudice [1].",),
        baseline_route="web_search",
        web_results=(AUSTEN,),
        expected_route="closed_book",
        baseline_note=(
            "The tutorial has no closed-book route. Its router knows the vectorstore's topics, so "
            "an off-corpus question goes to web search (its cheapest path: route, generate, "
            "hallucination grader, answer grader); the vectorstore route would cost more."
        ),
    ),
    Scenario(
        key="b",
        title="happy retrieval path",
        question="What year did Tesla die?",
        relevant_terms=("1943",),
        answers=("Nikola Tesla died in 1943 [1].",),
    ),
    Scenario(
        key="c",
        title="irrelevant documents, then a rewrite that succeeds",
        question="Which chemist found the element that lets things burn?",
        relevant_terms=("Scheele",),
        irrelevant_rounds=1,
        rewrite="When did Carl Wilhelm Scheele discover oxygen?",
        answers=("Carl Wilhelm Scheele discovered oxygen, in 1773 or earlier [1].",),
        baseline_note=(
            "The first grading round is scripted irrelevant for every document; after the "
            "rewrite a document is relevant iff it names Scheele."
        ),
    ),
    Scenario(
        key="d",
        title="ungrounded first answer, then a grounded one",
        question="Which team won Super Bowl 50?",
        relevant_terms=("Broncos",),
        answers=(
            "The Carolina Panthers won Super Bowl 50 [1].",
            "The Denver Broncos won Super Bowl 50 [1].",
        ),
        grounded=(False, True),
    ),
    Scenario(
        key="e",
        title="nothing relevant anywhere",
        question="What was Nikola Tesla's favourite colour?",
        rewrite="Nikola Tesla favorite color",
        answers=(insufficient_message("en"),),
        web_results=(NO_COLOUR,),
        expected_route="insufficient",
        baseline_note=(
            "Tesla is a vectorstore topic, so the router picks the vectorstore; no document is "
            "ever relevant and the tutorial's transform-query loop has no bound: it runs until "
            "LangGraph's recursion_limit stops it (an error, not an answer)."
        ),
    ),
    Scenario(
        key="f",
        title="Korean question over the English corpus",
        question="테슬라는 몇 년에 사망했나요?",
        relevant_terms=("1943",),
        translation="What year did Tesla die?",
        rewrite="What year did Nikola Tesla die?",
        answers=("테슬라는 1943년에 사망했습니다 [1].",),
        baseline_note=(
            "The tutorial has no translation step: it searches the English index with the Korean "
            "question; its grader still judges each retrieved document by content (a multilingual "
            "LLM would), and a failed round is rewritten into English."
        ),
    ),
)

BY_KEY = {s.key: s for s in SCENARIOS}
