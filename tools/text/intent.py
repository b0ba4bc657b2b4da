"""What a question asks for: an answer, or a summary of whole documents.

A summary request ("Summarize the Tesla document", "Give me an overview of these files",
"TL;DR of README.md", "테슬라 문서를 요약해 줘") is not answered from a few matching chunks: it
goes to the summarize step. Detection is lexical, in the languages the corpus is likely to be
asked in (English and Korean), so it costs no model call.
"""

from __future__ import annotations

import re

_EN = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?"
    r"(?:summari[sz]e|sum up|give (?:me )?(?:a |an )?(?:summary|overview|recap|gist)|"
    r"(?:write|make|provide) (?:me )?(?:a |an )?(?:short |brief )?(?:summary|overview)|"
    r"tl;?dr|what are the (?:main|key) points)\b"
    r"|\b(?:summary|overview|tl;?dr|gist|key points) of\b",
    re.IGNORECASE,
)
_KO = re.compile(r"요약|간추려|개요|핵심(?:만| 내용)|정리해")
_SEVERAL = re.compile(
    r"\b(?:documents|files|docs|papers|all|these|those|corpus|everything)\b|문서들|모든|전체",
    re.IGNORECASE,
)
_REQUEST_WORDS = re.compile(
    r"\b(?:please|can you|could you|what is|what's|tell me|summari[sz]e|sum up|give|me|write|"
    r"make|provide|a|an|the|short|brief|summary|overview|recap|gist|tl;?dr|of|what are|main|"
    r"key|points|document|file|documents|files|about|on)\b"
    r"|요약(?:해|하여|해서)?\s*(?:줘|주세요|줄래)?|정리해\s*(?:줘|주세요)?",
    re.IGNORECASE,
)


def is_summary_request(question: str) -> bool:
    """Whether ``question`` asks for a summary or overview rather than a fact."""
    return bool(_EN.search(question) or _KO.search(question))


def wants_several(question: str) -> bool:
    """Whether a summary request names several documents ("these files", "all documents")."""
    return bool(_SEVERAL.search(question))


def summary_topic(question: str) -> str:
    """What to search for: the request without its summarizing words.

    "Summarize the Tesla document" → "Tesla"; the question itself when nothing else is left.
    """
    topic = " ".join(_REQUEST_WORDS.sub(" ", question).replace("?", " ").split())
    return topic.strip(" .,:;!") or question
