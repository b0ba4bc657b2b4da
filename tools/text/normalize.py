"""Text as a filter should read it: compatibility forms folded, invisible characters removed.

``Ig\u200bnore previous instruc\u200btions`` reads as "Ignore previous instructions" to a
model and to a person, but not to a regular expression: zero-width spaces, joiners, soft
hyphens, bidirectional controls and other format characters (Unicode category ``Cf``) split
the words. NFKC folds full-width and other compatibility forms (``Ｉｇｎｏｒｅ``) to their
plain letters. Only checks read the normalised text; what is stored and shown is unchanged.
"""

from __future__ import annotations

import sys
import unicodedata
from functools import cache

# Line and paragraph separators are spacing, not format: they become spaces.
_SPACING = {"\u2028": " ", "\u2029": " "}


@cache
def _table() -> dict[int, str | None]:
    # Built once (~0.2 s: every code point's category): str.translate then does in C what a
    # per-character generator cost ~1 ms per document for in the graph's answer checks.
    table: dict[int, str | None] = {
        cp: None for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Cf"
    }
    table.update({ord(k): v for k, v in _SPACING.items()})
    return table


def for_matching(text: str) -> str:
    """``text`` NFKC-normalised, without format characters (zero-width and the like)."""
    if text.isascii():  # NFKC leaves ASCII alone, and it has no format characters
        return text
    return unicodedata.normalize("NFKC", text).translate(_table())
