"""Structured logs: one JSON object per line, with the request id, and never a secret."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable

FIELDS = ("request_id", "method", "path", "status", "duration_ms", "owner", "thread_id", "event")


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...}`` plus the request fields a record carries."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line."""
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: getattr(record, k) for k in FIELDS if hasattr(record, k)})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class RedactSecrets(logging.Filter):
    """Replace configured API keys and the DSN's password anywhere in a record: defence in depth.

    The app never logs headers, but a library's exception message might echo a value.
    """

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record, with secrets masked."""
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, "***")
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(secrets: Iterable[str] = (), level: int = logging.INFO) -> None:
    """JSON lines on stderr for the app, uvicorn and everything else (``arag serve``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # httpx (httpx2 under the openai SDK) logs every provider request at INFO: 3-4 lines per
    # question, each with the provider's URL. The app logs one line per request already.
    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
