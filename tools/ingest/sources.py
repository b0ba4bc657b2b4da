"""One entry point for every ingest input: a file path or a URL."""

from __future__ import annotations

import os

from langchain_core.documents import Document

from tools.ingest.loaders import is_url, load_file
from tools.ingest.url_loader import load_url


def load_source(item: str | os.PathLike) -> list[Document]:
    """Load a file path, or a URL (downloaded, then parsed by the same file loaders)."""
    if is_url(item):
        return load_url(str(item))
    return load_file(item)
