"""Chat message text: plain text out of content blocks, and cleaned-up questions."""

from __future__ import annotations

import re
import unicodedata
from typing import Any


def message_text(message: Any) -> str:
    """Plain text of a message whose content may be a string or a list of content blocks."""
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(
        block.get("text", "") if isinstance(block, dict) else str(block) for block in content
    )


def clean_question(text: str) -> str:
    """Drop control characters and lone surrogates; collapse runs of blank space."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cs", "Cf"}
    )
    return re.sub(r"\s+", " ", text).strip()
