"""Bounds a client puts on an answer: a length and stop sequences, for the offline answer.

With a model the bounds go to the model call itself (``max_tokens``, ``stop``); the extractive
answer has no tokenizer, so its length is counted in words: whitespace-separated pieces, not
counting citation markers (``died in 1943 [1].`` is three words). A sentence cut short keeps
its citation markers, so the shortened answer still names its source and passes the check.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+\s*")
_MARKERS_ONLY = re.compile(r"(\[\d+\])+[.,;:!?]?")
_MARKER = re.compile(r"\[\d+\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def _cut(text: str, end: int, stop: list[str]) -> str:
    """``text[:end]``, plus the citation markers of the sentence the cut falls in."""
    kept = text[:end].rstrip()
    if end >= len(text.rstrip()) or not kept or kept[-1] in ".!?":
        return kept
    sentence_rest = _SENTENCE_END.split(text[end:], maxsplit=1)[0]
    markers = "".join(dict.fromkeys(_MARKER.findall(sentence_rest)))
    if not markers or any(s in markers for s in stop):
        return kept
    return f"{kept} {markers}"


def bound_answer(text: str, max_words: int = 0, stop: list[str] | None = None) -> str:
    """``text`` ending before its first stop sequence and cut to ``max_words`` words (0: any)."""
    end = len(text)
    for sequence in stop or []:
        if sequence and sequence in text:
            end = min(end, text.index(sequence))
    if max_words > 0:
        words = 0
        for piece in _WORD.finditer(text):
            if not _MARKERS_ONLY.fullmatch(piece.group().strip()):
                if words == max_words:
                    end = min(end, piece.start())
                    break
                words += 1
    return _cut(text, end, [s for s in stop or [] if s])
