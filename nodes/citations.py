"""Citations by source: the ``[n]`` markers of an answer renumbered per document, not per chunk.

Two chunks of one file (``[1]`` and ``[4]``) become one source ``[1]``, so the user sees each
document once. Sources are numbered in order of first citation, so the numbering of any prefix
of an answer is the numbering that whole answer gets: text streamed before the answer was
finished keeps its numbers.
"""

from __future__ import annotations

import re

from graph.state import Citation, Doc
from tools.index.search import display_name, public_id
from tools.text.extractive import cited_numbers

_CITATION = re.compile(r"\[(\d+)\]")
_REPEATED = re.compile(r"(\[\d+\])(?:\s*\1)+")  # "[1][1]" after renumbering: one "[1]"


def sources(answer: str, docs: list[Doc]) -> tuple[dict[int, int], list[Citation]]:
    """Chunk number → source number, and one citation per source, in order of first citation.

    Numbers that name no document in ``docs`` are not mapped (the check already judged them).
    """
    number: dict[int, int] = {}
    by_source: dict[str, int] = {}
    citations: list[Citation] = []
    for n in cited_numbers(answer):
        if not 1 <= n <= len(docs):
            continue
        doc = docs[n - 1]
        if doc["source"] not in by_source:
            by_source[doc["source"]] = len(citations) + 1
            citation: Citation = {
                "n": len(citations) + 1,
                "id": public_id(doc["id"], display_name(doc)),
                "title": doc["title"],
                "source": display_name(doc),
            }
            if doc.get("section"):
                citation["section"] = doc["section"]
            citations.append(citation)
        cited = citations[by_source[doc["source"]] - 1]
        if doc.get("page") and doc["page"] not in cited.get("pages", []):
            cited["pages"] = [*cited.get("pages", []), doc["page"]]
        number[n] = by_source[doc["source"]]
    return number, citations


def renumber(text: str, number: dict[int, int]) -> str:
    """``text`` with its chunk numbers replaced by source numbers, repeated markers merged."""
    renumbered = _CITATION.sub(lambda m: f"[{number.get(int(m.group(1)), int(m.group(1)))}]", text)
    return _REPEATED.sub(r"\1", renumbered)


def cite_by_source(answer: str, docs: list[Doc]) -> tuple[str, list[Citation]]:
    """``answer`` numbered by source, and its citations (see :func:`sources`)."""
    number, citations = sources(answer, docs)
    return renumber(answer, number), citations
