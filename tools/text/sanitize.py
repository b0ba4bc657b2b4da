"""Model output as plain text: no HTML, no echoed prompt delimiters, no tool or template syntax.

Small models echo what they were shown: the prompt's own ``<document n="1" ...>`` blocks, an
``<answer>`` wrapper, chat-template tokens (``<|im_end|>``), tool-call syntax, or HTML. None of
that may reach a user, so every model answer passes through :func:`plain_text`.
"""

from __future__ import annotations

import html
import re

# Whole blocks whose content is never part of an answer: echoed prompt data and tool calls.
_ECHOED_BLOCKS = re.compile(
    r"<\s*(document|question|history|tool_call|function)\b[^>]*>.*?(<\s*/\s*\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
# Tags removed with their content kept: our answer wrapper and common HTML.
_HTML_TAGS = (
    "answer|p|div|span|b|i|u|em|strong|small|mark|code|pre|blockquote|ul|ol|li|dl|dt|dd|"
    "h[1-6]|a|table|thead|tbody|tr|td|th|font|center|section|article|header|footer|html|body"
)
_TAG = re.compile(rf"<\s*/?\s*(?:{_HTML_TAGS})\b[^>]*>", re.IGNORECASE)
_BREAK = re.compile(r"<\s*(br|hr)\s*/?\s*>", re.IGNORECASE)
_TEMPLATE_TOKEN = re.compile(r"<\|[^|>]{1,40}\|>|</?s>|\[/?INST\]", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def plain_text(text: str) -> tuple[str, bool]:
    """``text`` without markup, and whether anything was removed.

    Removes echoed ``<document>``/``<question>``/``<history>`` blocks and tool-call blocks with
    their content, chat-template tokens, and HTML tags (keeping their text); decodes HTML
    entities. ``[n]`` citations and Markdown are left alone.
    """
    cleaned = _TEMPLATE_TOKEN.sub("", text)
    cleaned = _ECHOED_BLOCKS.sub(" ", cleaned)
    cleaned = _BREAK.sub("\n", cleaned)
    cleaned = _TAG.sub("", cleaned)
    if "&" in cleaned:
        cleaned = html.unescape(cleaned)
    cleaned = _tidy(cleaned)
    return cleaned, cleaned != _tidy(text)


def _tidy(text: str) -> str:
    return _BLANK_LINES.sub("\n\n", _SPACES.sub(" ", text)).strip()
