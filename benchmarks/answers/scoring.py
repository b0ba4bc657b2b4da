"""Judge each answer and sum the judgements up: pure functions, no graph, no I/O.

* **correct**: an answerable question got an answer (not an abstention) that contains a
  reference answer (SQuAD-normalised, :func:`arag.evaluation.metrics.answer_recall`), or
  that the set's own check passes (``QuestionSet.correct``: Belebele cites the gold passage);
* **abstained**: the turn ended on the ``insufficient`` route ("I don't have enough
  information"). *Abstention precision* is the share of abstentions that were on questions the
  corpus cannot answer; *abstention recall* the share of those questions that got one;
* **citation precision**: the share of the citations of the answers given that are right by
  the set's check (:mod:`benchmarks.answers.sets`);
* **route mix**: how many turns ended on each route.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from arag.evaluation.datasets import Item
from arag.evaluation.metrics import answer_recall
from benchmarks.answers.sets import QuestionSet


@dataclass(frozen=True)
class Judged:
    """One question's outcome."""

    id: str
    kind: str
    language: str
    route: str
    abstained: bool
    correct: bool | None
    """None for a question the corpus cannot answer."""
    citations: int
    citations_right: int


def judge(qset: QuestionSet, item: Item, outputs: dict) -> Judged:
    """The outcome of one turn (``outputs`` as ``arag eval``'s target returns them)."""
    route = str(outputs.get("route") or "error")
    abstained = route == "insufficient"
    kind = qset.kinds[item.id]
    correct = None
    if kind == "answerable":
        right = (
            qset.correct(item, outputs)
            if qset.correct
            else bool(answer_recall(outputs.get("answer") or "", item.answers))
        )
        correct = not abstained and right
    cited = [] if abstained else list(outputs.get("cited") or [])
    return Judged(
        item.id,
        kind,
        qset.language(item),
        route,
        abstained,
        correct,
        len(cited),
        sum(qset.cited_right(item, c) for c in cited),
    )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def summarize(judged: list[Judged]) -> dict:
    """The figures of one set (``None`` where a figure has no questions to count)."""
    answerable = [j for j in judged if j.kind == "answerable"]
    unanswerable = [j for j in judged if j.kind != "answerable"]
    abstained = [j for j in judged if j.abstained]
    cited = sum(j.citations for j in judged)
    out = {
        "questions": len(judged),
        "by_kind": dict(Counter(j.kind for j in judged)),
        "answerable_correct": _share(sum(bool(j.correct) for j in answerable), len(answerable)),
        "answerable_abstained": _share(sum(j.abstained for j in answerable), len(answerable)),
        "abstention_precision": _share(
            sum(j.kind != "answerable" for j in abstained), len(abstained)
        ),
        "abstention_recall": _share(sum(j.abstained for j in unanswerable), len(unanswerable)),
        "citation_precision": _share(sum(j.citations_right for j in judged), cited),
        "routes": dict(sorted(Counter(j.route for j in judged).items())),
    }
    for kind in ("near_miss", "out_of_corpus"):
        group = [j for j in judged if j.kind == kind]
        out[f"{kind}_abstained"] = _share(sum(j.abstained for j in group), len(group))
    korean = [j for j in judged if j.language == "ko"]
    if korean:
        out["korean"] = {
            "questions": len(korean),
            "answerable_correct": _share(
                sum(bool(j.correct) for j in korean if j.kind == "answerable"),
                sum(j.kind == "answerable" for j in korean),
            ),
            "unanswerable_abstained": _share(
                sum(j.abstained for j in korean if j.kind != "answerable"),
                sum(j.kind != "answerable" for j in korean),
            ),
        }
    return out
