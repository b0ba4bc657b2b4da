"""Text as a filter should read it: compatibility forms folded, invisible characters removed.

``Ig\u200bnore previous instruc\u200btions`` reads as "Ignore previous instructions" to a
model and to a person, but not to a regular expression: zero-width spaces, joiners, soft
hyphens, bidirectional controls and other format characters (Unicode category ``Cf``) split
the words. NFKC folds full-width and other compatibility forms (``Ｉｇｎｏｒｅ``) to their
plain letters. Only checks read the normalised text; what is stored and shown is unchanged.
"""

from __future__ import annotations

import unicodedata

# Line and paragraph separators are spacing, not format: they become spaces.
_SPACING = {"\u2028": " ", "\u2029": " "}


def for_matching(text: str) -> str:
    """``text`` NFKC-normalised, without format characters (zero-width and the like)."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(_SPACING.get(ch, ch) for ch in folded if unicodedata.category(ch) != "Cf")
