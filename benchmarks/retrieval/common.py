"""Helpers shared by the benchmark driver, the scale corpus and the worker.

:mod:`benchmarks.retrieval.__main__`, :mod:`~benchmarks.retrieval.scale` and
:mod:`~benchmarks.retrieval.worker` all import this module, and it imports none of them, so the
package's imports form no cycle.
"""

from __future__ import annotations

import argparse
import random

STACKS = ("seed", "ours", "bm25s")
"""Every stack the benchmark runs, in report order."""
STACK_LABELS = {
    "seed": "seed stack (Chroma + rank_bm25)",
    "ours": "ours (LanceDB hybrid)",
    "bm25s": "bm25s (BM25 only)",
}


def parse_size(text: str) -> int:
    """``10k`` / ``100K`` / ``1M`` / ``2500`` -> int."""
    text = text.strip().lower().replace("_", "").replace(",", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    digits = text[:-1] if mult != 1 else text
    try:
        value = int(float(digits) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 10k, 100k, 1M)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return value


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"10k,100k"`` -> (10000, 100000); ``"none"`` or empty -> ()."""
    if text.strip().lower() in ("", "none", "0"):
        return ()
    return tuple(sorted({parse_size(part) for part in text.split(",") if part.strip()}))


def sample_questions(questions: list, limit: int | None, seed: int = 0) -> list:
    """A fixed-seed sample of ``limit`` questions in their original order (all when None)."""
    if limit is None or limit >= len(questions):
        return list(questions)
    keep = sorted(random.Random(seed).sample(range(len(questions)), limit))
    return [questions[i] for i in keep]
