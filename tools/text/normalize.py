"""Text as a filter should read it: compatibility forms folded, invisible characters removed.

``Ig\u200bnore previous instruc\u200btions`` reads as "Ignore previous instructions" to a
model and to a person, but not to a regular expression: zero-width spaces, joiners, soft
hyphens, bidirectional controls and other format characters (Unicode category ``Cf``) split
the words. NFKC folds full-width and other compatibility forms (``Ｉｇｎｏｒｅ``) to their
plain letters. Only checks read the normalised text; what is stored and shown is unchanged.
"""

from __future__ import annotations

import re
import unicodedata

# Line and paragraph separators are spacing, not format: they become spaces.
_SPACING = {"\u2028": " ", "\u2029": " "}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def for_matching(text: str) -> str:
    """``text`` NFKC-normalised, without format characters (zero-width and the like)."""
    if text.isascii():  # NFKC leaves ASCII alone, and it has no format characters
        return text
    folded = unicodedata.normalize("NFKC", text)
    # Only the distinct non-ASCII characters are looked at (found by the regex, in C), and
    # str.translate drops them: a per-character generator over the whole text was the graph's
    # largest own cost per turn (255,720 steps, 0.34 s of 20 runs of bench-graph's scenario d).
    table: dict[int, str | None] = {
        ord(ch): _SPACING.get(ch) if ch in _SPACING else None
        for ch in set(_NON_ASCII.findall(folded))
        if ch in _SPACING or unicodedata.category(ch) == "Cf"
    }
    return folded.translate(table) if table else folded
