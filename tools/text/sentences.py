"""Sentence splitting that does not cut names and abbreviations in half.

"James O. McKinsey", "St. Johns River", "U.S. Supreme Court" and "Dr. Smith" hold full stops
that end no sentence; splitting on every full stop turns them into fragments ("James O"), and a
fragment is then quoted as an answer. A full stop after a single letter or a known abbreviation
is therefore not a boundary; after an abbreviation that often ends a sentence too ("etc.",
"Inc."), it is one only when the next word starts with a capital letter.

Line breaks end a sentence, except a single break inside a hard-wrapped paragraph (HTML source
text and plain text that reflow left as it was): a long line of at least four words that stops
mid-sentence (on a word or a comma), followed by a line that starts no list item, table row,
quote or code. A line whose words are set in aligned columns (three spaces or more between
them) is a table row, never wrapped prose.
"""

from __future__ import annotations

import re

_WRAPPED = re.compile(r"(?<=[\w,;)])\n(?=[ \t]{0,3}[\w(\"'‘“])")
_COLUMNS = re.compile(r"\S {3,}\S")
_WRAP_MIN_LINE = 40
"""A line shorter than this is a heading or a breadcrumb, not part of a wrapped paragraph."""
BOUNDARY = re.compile(r"(?<=[.!?。！？])\s+|\n+")
"""A candidate sentence boundary: whitespace after terminal punctuation, or line breaks."""
_LAST_WORD = re.compile(r"(\w+)\.$")

# Titles and short forms that are followed by a name or a number, never by a new sentence.
_NEVER_FINAL = frozenset(
    """
    mr mrs ms dr prof st mt ft gen col lt sgt capt gov sen rep rev fr sr jr vs no nos vol fig
    figs approx ca cf eg ie al jan feb mar apr jun jul aug sep sept oct nov dec pp
    """.split()
)
# Short forms that may also close a sentence: a boundary only before a capitalised word.
_MAYBE_FINAL = frozenset("etc inc ltd co corp bros dept univ esp resp".split())
_TAIL_CHARS = 32  # longer than any word in the two sets above, plus its full stop


def continues(piece: str, following: str) -> bool:
    """Whether the full stop ending ``piece`` belongs to an abbreviation, not a sentence end."""
    # Only the tail can hold the last word: searching the whole piece tried \w+ at every
    # position (a third of the sentence splitter's time). A cut word longer than any short
    # form stays longer than one letter and outside the sets, so the answer is the same.
    match = _LAST_WORD.search(piece[-_TAIL_CHARS:]) if piece.endswith(".") else None
    if not match:
        return False
    word = match.group(1)
    low = word.lower()
    if (len(word) == 1 and word.isalpha()) or low in _NEVER_FINAL:
        return True  # an initial ("James O."), "U.S.", "e.g.", "St.", "Dr."
    return low in _MAYBE_FINAL and not following[:1].isupper()


def _unwrap(text: str) -> str:
    """Join the lines of hard-wrapped paragraphs (see the module docstring)."""

    def join(match: re.Match[str]) -> str:
        line_start = text.rfind("\n", 0, match.start()) + 1
        line = text[line_start : match.start()]
        # Not a badge, a URL, a breadcrumb, or a row of aligned columns ("docs/   =>  Manuals").
        prose = len(line.split()) >= 4 and " > " not in line and not _COLUMNS.search(line)
        wrapped = prose and len(line.strip()) >= _WRAP_MIN_LINE
        return " " if wrapped and not line.startswith(("    ", "\t")) else "\n"

    return _WRAPPED.sub(join, text)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences on terminal punctuation and line breaks.

    A full stop after an initial or an abbreviation, and a line break inside a hard-wrapped
    paragraph (see the module docstring), do not end a sentence. Pieces of one character or
    less are dropped.
    """
    text = _unwrap(text)
    sentences: list[str] = []
    start = 0
    pending = ""
    for match in BOUNDARY.finditer(text):
        piece = pending + text[start : match.start()]
        start = match.end()
        if "\n" not in match.group() and continues(piece, text[start : start + 1]):
            pending = piece + " "
            continue
        pending = ""
        sentences.append(piece)
    sentences.append(pending + text[start:])
    return [s.strip() for s in sentences if len(s.strip()) > 1]
