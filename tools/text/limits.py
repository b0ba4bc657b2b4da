"""Bounds a client puts on an answer: a length and stop sequences, for the offline answer.

With a model the bounds go to the model call itself (``max_tokens``, ``stop``); the extractive
answer has no tokenizer, so its length is counted in words: whitespace-separated pieces,
citation markers included (``1943 [1].`` is two words).
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+\s*")


def bound_answer(text: str, max_words: int = 0, stop: list[str] | None = None) -> str:
    """``text`` ending before its first stop sequence and cut to ``max_words`` words (0: any)."""
    for sequence in stop or []:
        if sequence and sequence in text:
            text = text[: text.index(sequence)]
    if max_words > 0:
        words = _WORD.findall(text.lstrip())
        if len(words) > max_words:
            text = "".join(words[:max_words])
    return text.rstrip()
