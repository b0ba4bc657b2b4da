"""Hard-wrapped text back into paragraphs, with headings, lists, tables and code kept as units.

READMEs, NEWS files, man-page exports and PDF text wrap lines at ~72-80 columns. A line break
there is not a sentence end: treated as one, "bzip2 is a freely available ... compressor" comes
back as fragments and citations land mid-sentence. :func:`reflow` joins the lines of each
paragraph with spaces and leaves every line that carries structure on its own line.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_UNDERLINE = re.compile(r"^\s*([=\-~^*+#])\1{2,}\s*$")  # reStructuredText / setext headings
_LIST_ITEM = re.compile(r"^\s*([-*+•]|\d{1,3}[.)]|[a-zA-Z][.)])\s+\S")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$|^\s*\+[-=+]+\+\s*$")
_INDENTED_CODE = re.compile(r"^(    |\t)\S")
_FIELD = re.compile(r"^[A-Z][\w .-]{0,30}:\s")  # "Copyright: ...", "Version: 1.2"


def _structural(line: str) -> bool:
    """A line that stands on its own: heading, list item, table row, code, a labelled field."""
    return bool(
        _HEADING.match(line)
        or _UNDERLINE.match(line)
        or _LIST_ITEM.match(line)
        or _TABLE_ROW.match(line)
        or _INDENTED_CODE.match(line)
        or _FIELD.match(line)
    )


def reflow(text: str) -> str:
    """``text`` with each wrapped paragraph on one line; blank lines and structure kept.

    A line joins the one before it when both are plain prose in the same paragraph. A list
    item's wrapped continuation (indented, or plain text right after it) joins the item.
    Fenced code blocks are left exactly as they are, and so is a hyphen at a line end
    (a wrapped ``co-`` / ``operate`` cannot be told from ``co-operate``).
    """
    out: list[str] = []
    in_fence = False
    joinable = False  # whether the last output line may take a continuation
    for raw in text.splitlines():
        line = raw.rstrip()
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            joinable = False
            continue
        if in_fence:
            out.append(raw)
            continue
        if not line.strip():
            out.append("")
            joinable = False
            continue
        if _UNDERLINE.match(line) and out and out[-1].strip():
            out.append(line)  # the line above is a heading: neither may join anything
            joinable = False
            continue
        structural = _structural(line)
        if joinable and not structural and not raw.endswith("  "):
            out[-1] = f"{out[-1]} {line.strip()}"
            continue
        out.append(line)
        joinable = not (
            _HEADING.match(line) or _TABLE_ROW.match(line) or _INDENTED_CODE.match(line)
        )
    return "\n".join(out)
