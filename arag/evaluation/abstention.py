"""Offline abstention thresholds fitted on held-out splits: fit on one half, report on the other.

Offline, a question is answered when three things hold, each with its threshold in
:class:`graph.config.Context`:

1. the corpus probe's best calibrated score reaches ``probe_weak`` (else "insufficient");
2. a retrieved document reaches ``relevance_threshold`` (and ``RELATIVE_CUT`` of the best).
   The answer needs both, so one *floor* is fitted for the two;
3. the best sentence of those documents holds ``answer_coverage`` of the question's weighted
   content terms (:func:`tools.text.evidence.answer_coverage`; else "insufficient").

One :class:`Observation` per question records what the search and the sentence ranking gave
(the retrieved scores, the ranked sentences with the document score, coverage and whether each
is right), measured once with the lowest score floor of the grid. Any threshold pair is then
replayed without searching again: the answer is the best-ranked sentence whose document
passes the floor. Replaying is exact for the floor on the probe and the documents, and an
approximation for the sentence ranking (its term rarity is read over the documents retrieved
at the lowest floor, a superset).

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

FLOOR_GRID = tuple(round(0.15 + 0.01 * i, 2) for i in range(36))  # 0.15 .. 0.50
COVERAGE_GRID = tuple(round(0.05 * i, 2) for i in range(13))  # 0 .. 0.60
LOWEST_FLOOR = FLOOR_GRID[0]
TIE = 0.005
"""Balanced-accuracy differences below this are noise on fit halves of ~500 questions."""
RANKED_KEPT = 12
"""Ranked sentences kept per question: enough for any floor of the grid to find its best."""


@dataclass(frozen=True)
class Ranked:
    """One ranked sentence as the replay needs it."""

    doc_score: float
    coverage: float | None
    right: bool


@dataclass
class Observation:
    """What one question gave (see the module docstring)."""

    id: str
    kind: str
    part: str
    top: float
    """The best calibrated score retrieved (the probe)."""
    ranked: list[Ranked] = field(default_factory=list)
    """Its sentences, best first, from the documents at or above :data:`LOWEST_FLOOR`."""

    def answer(self, floor: float, coverage: float, relative_cut: float) -> Ranked | None:
        """The sentence quoted at these thresholds, or None for "insufficient"."""
        if self.top < floor:
            return None
        cut = max(floor, relative_cut * self.top)
        best = next((r for r in self.ranked if r.doc_score >= cut), None)
        if best is None or (best.coverage is not None and best.coverage < coverage):
            return None
        return best


def observe(split: SplitSet, ctx, embeddings) -> list[Observation]:
    """Ingest the split's corpus into a temporary index and observe every question."""
    from arag.evaluation.runner import ingest_passages
    from tools.index.lance import LanceIndex
    from tools.index.search import search
    from tools.text.evidence import answer_coverage
    from tools.text.extractive import rank_sentences
    from tools.text.language import needs_translation

    out = []
    with tempfile.TemporaryDirectory(prefix=f"arag-abstention-{split.name}-") as tmp:
        ingest_passages(split.passages, tmp, embeddings)
        index = LanceIndex.open(tmp, embeddings)
        cross_language = {
            i.id: needs_translation(i.question, index.meta.language) for i in split.items
        }
        try:
            for item in split.items:
                docs = search(index, item.question, ctx.k, multihop=ctx.multihop)
                top = docs[0]["score"] if docs else 0.0
                # The lowest floor and no relative cut: every setting of the grid replays.
                kept = [d for d in docs if d["score"] >= LOWEST_FLOOR]
                ranked = []
                for sentence, _ in rank_sentences(item.question, kept, embeddings)[:RANKED_KEPT]:
                    doc = kept[sentence.n - 1]
                    right = split.kinds[item.id] == "answerable" and split.right(
                        item, sentence.text, doc["source"]
                    )
                    cov = answer_coverage(
                        item.question, sentence, cross_script=cross_language[item.id]
                    )
                    ranked.append(Ranked(doc["score"], cov, right))
                out.append(
                    Observation(item.id, split.kinds[item.id], split.parts[item.id], top, ranked)
                )
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


def outcome(
    observations: Iterable[Observation], floor: float, coverage: float, relative_cut: float
) -> Outcome:
    """Answerable answered right / near misses declined, at these thresholds."""
    obs = list(observations)
    answerable = [o for o in obs if o.kind == "answerable"]
    near = [o for o in obs if o.kind == "near_miss"]
    right = sum(
        bool((a := o.answer(floor, coverage, relative_cut)) and a.right) for o in answerable
    )
    declined = sum(o.answer(floor, coverage, relative_cut) is None for o in near)
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
    relative_cut: float,
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
                outcome([o for o in obs if o.part == part], floor, cov, relative_cut).balanced
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
