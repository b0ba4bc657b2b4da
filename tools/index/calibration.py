"""The calibrated score's cosine ramp, one per embedding model (pure data and functions).

Cosines mean different things for different embedding models: WordLlama gives a question and
its gold paragraph a median cosine of 0.51 and unrelated paragraphs 0.02; another model has its
own scale. The calibrated score
(:func:`tools.index.scoring.calibrated_score`) maps a cosine to [0, 1] with a linear ramp, so
that the thresholds on it (``probe_strong``, ``probe_weak``, ``relevance_threshold``) mean the
same for every model; the ramp is therefore per model. An index records the ramp it was built
with (``index_meta.json``, :class:`tools.index.base.IndexMeta`); a model with no fitted ramp
gets :data:`FALLBACK`, and its ``fitted_on`` stays empty, so every search with it is flagged
``uncalibrated_embeddings`` (``nodes/confidence.py``).

:func:`fit_ramp` is how a ramp is fitted from labelled questions: ``low`` is the 95th
percentile of question-vs-unrelated-passage cosines ("no relation" below it), ``high`` the
75th percentile of question-vs-gold-passage cosines ("as related as a good answer" above it).
For WordLlama on XQuAD-en (1,190 questions, 240 paragraphs) it gives 0.18 / 0.62; the table
keeps the round 0.15 / 0.65 that every threshold was fitted with since.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from tools.index.scoring import COS_HIGH, COS_LOW


@dataclass(frozen=True)
class ScoreCalibration:
    """The cosine ramp of one embedding model and what it was fitted on."""

    embedding_model: str
    cos_low: float
    """Cosine mapped to 0: at or below it, no semantic relation."""
    cos_high: float
    """Cosine mapped to 1: as related as a typical question and the passage answering it."""
    fitted_on: str = ""
    """The data the ramp was measured on; empty for the fallback ramp (not fitted)."""

    @property
    def fitted(self) -> bool:
        """Whether the ramp was measured for this model (else it is the fallback)."""
        return bool(self.fitted_on)

    def to_dict(self) -> dict:
        """Plain-dict form for ``index_meta.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> ScoreCalibration:
        """Read the form :meth:`to_dict` writes; a ``ValueError`` when it is malformed."""
        try:
            low, high = float(raw["cos_low"]), float(raw["cos_high"])
            model = str(raw["embedding_model"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed score calibration {raw!r}") from exc
        if not low < high:
            raise ValueError(f"score calibration needs cos_low < cos_high, got {low}, {high}")
        return cls(model, low, high, str(raw.get("fitted_on") or ""))


# Measured on XQuAD-en (see tools/index/scoring.py, where the ramp was first fitted).
WORDLLAMA = ScoreCalibration(
    "wordllama:l2_supercat-256",
    COS_LOW,
    COS_HIGH,
    "XQuAD-en, 1,190 questions vs 240 paragraphs (unrelated p95 0.18, gold median 0.51)",
)
CALIBRATIONS: dict[str, ScoreCalibration] = {WORDLLAMA.embedding_model: WORDLLAMA}
"""Fitted ramps by embedding model id (``provider:model``, as ``embedding_model_id`` gives)."""

FALLBACK_LOW, FALLBACK_HIGH = WORDLLAMA.cos_low, WORDLLAMA.cos_high
"""The ramp of a model nobody fitted: WordLlama's, flagged as not fitted."""


def calibration_for(model_id: str) -> ScoreCalibration:
    """The fitted ramp of ``model_id``, else the fallback ramp (``fitted`` False)."""
    known = CALIBRATIONS.get(model_id)
    if known is not None:
        return known
    return ScoreCalibration(model_id, FALLBACK_LOW, FALLBACK_HIGH)


def fit_ramp(
    unrelated: Sequence[float], gold: Sequence[float], *, low_q: float = 95, high_q: float = 75
) -> tuple[float, float]:
    """``(cos_low, cos_high)`` from measured cosines (see the module docstring), 2 decimals.

    Raises ``ValueError`` when either list is empty or the two overlap so much that the
    ramp would be empty (``cos_low >= cos_high``): such a model cannot separate the two.
    """
    if not len(unrelated) or not len(gold):
        raise ValueError("fit_ramp needs unrelated and gold cosines")
    low = round(float(np.percentile(unrelated, low_q)), 2)
    high = round(float(np.percentile(gold, high_q)), 2)
    if low >= high:
        raise ValueError(f"unrelated p{low_q:g} {low} is not below gold p{high_q:g} {high}")
    return low, high
