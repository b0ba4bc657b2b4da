"""Whether a follow-up question needs the conversation to be understood (no LLM).

Offline, a follow-up that leans on an earlier turn ("Who did he partner with?") is searched
together with the previous question; one that stands on its own ("What about the Black Death,
when did it start?") must be searched alone, or the new topic gets the old topic's answer.
"""

from __future__ import annotations

import re

# Words that point back at something said before.
_BACK_REFERENCES = frozenset(
    "he she him her his hers they them their theirs it its this that these those there then "
    "same former latter one".split()
)
_KOREAN_BACK_REFERENCES = ("그는", "그녀", "그들", "그것", "그곳", "거기", "이것", "저것", "그때")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_QUOTED = re.compile(r"[\"“«']([^\"”»']{2,})[\"”»']")


def _entities(text: str) -> set[str]:
    """Capitalised words after the first word, and quoted terms: what the question is about."""
    words = _WORD.findall(text)
    names = {w.lower() for w in words[1:] if w[0].isupper() and w.lower() not in {"i"}}
    names |= {q.lower() for q in _QUOTED.findall(text)}
    return names


def needs_history(question: str, previous: str) -> bool:
    """True when ``question`` points back at the conversation and names nothing new.

    A question naming an entity the previous question did not ("... the Black Death ...")
    stands alone, even with an "it" inside: that "it" points at its own entity. Without a new
    entity, a back-reference ("he", "that", "there") or a bare "and"/"what about" opening
    means the question leans on the previous turn.
    """
    lowered = question.lower()
    if any(marker in question for marker in _KOREAN_BACK_REFERENCES):
        return True
    if _entities(question) - _entities(previous) - set(_WORD.findall(previous.lower())):
        return False
    words = [w.lower() for w in _WORD.findall(question)]
    if not words:  # another script, no back-reference found: treat it as its own question
        return False
    opens_on_history = lowered.startswith(("and ", "what about", "how about", "also "))
    return opens_on_history or any(w in _BACK_REFERENCES for w in words) or len(words) <= 3
