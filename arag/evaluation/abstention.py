"""Offline abstention thresholds fitted on held-out splits: fit on one half, report on the other.

Offline, a question is answered when three things hold, each with its threshold in
:class:`graph.config.Context`:

1. the corpus probe's best calibrated score reaches ``probe_weak`` (else "insufficient");
2. a retrieved document reaches ``relevance_threshold`` (and ``RELATIVE_CUT`` of the best).
   The answer needs both, so one *floor* is fitted for the two;
3. the best sentence of those documents holds ``answer_coverage`` of the question's weighted
   content terms (:func:`tools.text.evidence.answer_coverage`; else "insufficient");
4. a question that asks for a date or a number gets one, and the quote mentions every number
   the question names (:func:`tools.text.evidence.decline_reason`; no threshold: replayed as
   "insufficient" at every setting).

One :class:`Observation` per question records, for every score floor of :data:`FLOOR_GRID`,
what the offline answer would quote (the graph's own functions: the documents at or above the
floor and ``RELATIVE_CUT`` of the best, :func:`tools.text.extractive.rank_sentences`,
:func:`~tools.text.extractive.pick_sentences`, :func:`tools.text.evidence.answer_coverage`),
with its coverage and whether it is right. Any coverage threshold then replays without
searching again. The graph's query rewrites (after nothing relevant is found) are not
replayed, so the shares differ a little from ``make bench-answers``.

A threshold is fitted as the grid value with the highest *balanced accuracy* (the mean of the
share of answerable questions answered right and the share of near misses declined) averaged
over the fit halves of the sets given, so that no corpus outweighs another. Values within
:data:`TIE` of the best count as tied, and a tie goes to the highest coverage (then the highest
floor): a near miss answered is the error this check exists to prevent, and the fit halves
cannot tell such values apart.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from arag.evaluation.splits import SplitSet

FLOOR_GRID = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
"""Score floors observed (``max(probe_weak, relevance_threshold)``: an answer needs both)."""
COVERAGE_GRID = tuple(round(0.05 * i, 2) for i in range(13))  # 0 .. 0.60
TIE = 0.005
"""Balanced-accuracy differences below this are noise on fit halves of ~500 questions."""


@dataclass(frozen=True)
class Quoted:
    """What the offline answer quotes at one floor: its coverage and whether it is right."""

    coverage: float | None
    """None when it cannot be judged (a question in a script the corpus does not use)."""
    right: bool


@dataclass
class Observation:
    """What one question gave (see the module docstring)."""

    id: str
    kind: str
    part: str
    quoted: dict[float, Quoted | None] = field(default_factory=dict)
    """Floor -> the quoted answer, or None for "insufficient" (nothing at or above it)."""

    def answer(self, floor: float, coverage: float) -> Quoted | None:
        """The answer at these thresholds, or None for "insufficient"."""
        quoted = self.quoted[floor]
        if quoted is None or (quoted.coverage is not None and quoted.coverage < coverage):
            return None
        return quoted


def observe(split: SplitSet, ctx, embeddings, floors: Sequence[float] = FLOOR_GRID):
    """Ingest the split's corpus into a temporary index and observe every question."""
    from arag.evaluation.runner import ingest_passages
    from nodes.grade import grade_by_score
    from tools.index.lance import LanceIndex
    from tools.index.search import search
    from tools.text.evidence import answer_coverage, decline_reason
    from tools.text.extractive import pick_sentences, rank_sentences
    from tools.text.language import needs_translation

    out = []
    with tempfile.TemporaryDirectory(prefix=f"arag-abstention-{split.name}-") as tmp:
        ingest_passages(split.passages, tmp, embeddings)
        index = LanceIndex.open(tmp, embeddings)
        try:
            for item in split.items:
                docs = search(index, item.question, ctx.k, multihop=ctx.multihop)
                cross = needs_translation(item.question, index.meta.language)
                obs = Observation(item.id, split.kinds[item.id], split.parts[item.id])
                for floor in floors:
                    kept = grade_by_score(docs, floor)
                    ranked = rank_sentences(item.question, kept, embeddings) if kept else []
                    picked = pick_sentences(item.question, ranked)
                    if not picked or decline_reason(item.question, picked, cross_script=cross):
                        obs.quoted[floor] = None
                        continue
                    text = " ".join(p.text for p in picked)
                    source = kept[picked[0].n - 1]["source"]
                    right = obs.kind == "answerable" and split.right(item, text, source)
                    coverage = answer_coverage(item.question, picked, cross_script=cross)
                    obs.quoted[floor] = Quoted(coverage, right)
                out.append(obs)
        finally:
            index.close()
    return out


@dataclass(frozen=True)
class Outcome:
    """Shares over one half of one set at one threshold setting."""

    answerable_right: float
    near_miss_declined: float
    questions: int

    @property
    def balanced(self) -> float:
        """The mean of the two shares."""
        return (self.answerable_right + self.near_miss_declined) / 2


def outcome(observations: Iterable[Observation], floor: float, coverage: float) -> Outcome:
    """Answerable answered right / near misses declined, at these thresholds."""
    obs = list(observations)
    answerable = [o for o in obs if o.kind == "answerable"]
    near = [o for o in obs if o.kind == "near_miss"]
    right = sum(bool((a := o.answer(floor, coverage)) and a.right) for o in answerable)
    declined = sum(o.answer(floor, coverage) is None for o in near)
    return Outcome(
        right / len(answerable) if answerable else 0.0,
        declined / len(near) if near else 0.0,
        len(obs),
    )


def fit(
    sets: dict[str, list[Observation]],
    *,
    floors: Sequence[float],
    coverages: Sequence[float],
    part: str = "fit",
    tie: float = TIE,
) -> tuple[float, float, float]:
    """``(floor, coverage, mean balanced accuracy)`` best on ``part`` of every set.

    Among the pairs within ``tie`` of the best score, the highest coverage wins, then the
    highest floor (see the module docstring).
    """
    scored = [
        (
            statistics.fmean(
                outcome([o for o in obs if o.part == part], floor, cov).balanced
                for obs in sets.values()
            ),
            floor,
            cov,
        )
        for floor in floors
        for cov in coverages
    ]
    if not scored:
        raise ValueError("fit needs at least one floor and one coverage value")
    top = max(score for score, _, _ in scored)
    score, floor, cov = max((s for s in scored if s[0] >= top - tie), key=lambda s: (s[2], s[1]))
    return floor, cov, score
