"""Release a streamed answer sentence by sentence, only as far as each sentence verifies.

A chat UI cannot take back text it has shown, so an answer being written is held until its
sentences check out: :class:`SentenceRelease` takes the model's text as it streams, cuts it into
finished sentences at the boundaries :mod:`tools.text.sentences` uses (not after an initial or
an abbreviation; a sentence is finished once the next one has begun, so citations written after
its full stop are still its own) and releases each one that ``verified`` accepts, in
order. The first sentence that does not verify stops the release for the rest of the draft;
what was held is judged with the whole draft afterwards.

Released text is final: :attr:`SentenceRelease.released` is always a prefix of the answer the
draft becomes (:meth:`SentenceRelease.answer`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tools.text.sanitize import plain_text
from tools.text.sentences import BOUNDARY, continues

_CITATIONS = re.compile(r"\[\d+\](?:\s*\[\d+\])*")
_PARTIAL_CITATION = re.compile(r"\[\d*")


def _separator(gap: str) -> str:
    """The space between two released sentences, as the model wrote it (tidied)."""
    if "\n\n" in gap:
        return "\n\n"
    return "\n" if "\n" in gap else " "


@dataclass
class SentenceRelease:
    """Incremental release of one answer draft.

    ``verified(sentence)`` decides whether a finished sentence may be shown; ``on_release``
    receives each piece of newly released text (with its leading separator) as it is released.
    """

    verified: Callable[[str], bool]
    on_release: Callable[[str], None] = lambda _: None
    released: str = ""
    """The text shown so far (tidied sentences and their separators)."""
    stopped: bool = False
    """A sentence failed to verify: nothing more of this draft is released early."""
    _buffer: str = field(default="", repr=False)
    _consumed: int = field(default=0, repr=False)  # characters of _buffer already released

    def feed(self, text: str) -> None:
        """Take the next streamed piece of the draft; release what is now finished and checks."""
        self._buffer += text
        while not self.stopped and (found := self._next_finished()) is not None:
            self._release_or_stop(*found)

    def answer(self) -> tuple[str, bool]:
        """The whole draft: the released text, then the rest tidied; and whether markup went.

        Call once the stream has ended. The rest is cleaned with
        :func:`~tools.text.sanitize.plain_text`; the released part never changes.
        """
        tail = self._buffer[self._consumed :]
        rest, stripped = plain_text(tail)
        if not self.released or not rest:
            return self.released or rest, stripped
        gap = tail[: len(tail) - len(tail.lstrip())]
        return self.released + _separator(gap) + rest, stripped

    def _next_finished(self) -> tuple[str, int] | None:
        """The next finished sentence after what was released, and where it ends; or None.

        A sentence is finished when the text after its boundary has begun a new sentence.
        Citation markers right after the boundary ("... in 1943. [1]") still belong to it.
        """
        text, start = self._buffer, self._consumed
        for boundary in BOUNDARY.finditer(text, start):
            after = text[boundary.end() :]
            if not after.strip():
                return None  # the next sentence has not begun
            if "\n" not in boundary.group() and continues(text[start : boundary.start()], after):
                continue  # "Dr. Smith", "James O. McKinsey": the sentence goes on
            if cites := _CITATIONS.match(after):
                if not after[cites.end() :].strip():
                    return None  # more markers may follow, or this is the draft's end
                end = boundary.end() + cites.end()
            elif _PARTIAL_CITATION.fullmatch(after):
                return None  # a marker being written
            else:
                end = boundary.start()
            if text[start:end].strip():
                return text[start:end].strip(), end
        return None

    def _release_or_stop(self, sentence: str, end: int) -> None:
        clean, stripped = plain_text(sentence)
        if stripped or clean != sentence or not self.verified(sentence):
            self.stopped = True  # held: the check of the whole draft decides about the rest
            return
        gap = self._buffer[self._consumed : self._buffer.index(sentence, self._consumed)]
        piece = (_separator(gap) if self.released else "") + sentence
        self.released += piece
        self._consumed = end
        self.on_release(piece)
