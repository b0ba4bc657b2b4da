"""Document filters: which documents a search may return, from the metadata recorded at ingest.

Ingestion records for every chunk its document's ``display`` path (the path under the folder
that was ingested, or the URL), its ``tags`` (``arag ingest --tag``, or the ingestion API's
``tag`` fields), its ``file_type`` (the file's extension, ``html`` for a web page) and when it
was written (``ingested_at``, UTC). :class:`DocFilter` is the one typed model of a filter on
them; each backend translates it (LanceDB: a SQL ``WHERE`` applied before the search, built
here with every value checked and quoted; Weaviate: a ``Filter``), so a filter means the same
on both.

All given conditions must hold; within ``tags`` or ``file_types`` any listed value matches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
TAG_RULE = "1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit"
FILE_TYPE = re.compile(r"^[a-z0-9]{1,10}$")
MAX_PREFIX = 512
MAX_VALUES = 20
TAG_SEPARATOR = "|"
"""Tags are stored as ``|a|b|`` (LanceDB), so one tag matches as ``|a|`` and never a part."""
KEYS = ("source_prefix", "tags", "file_types", "ingested_after", "ingested_before")


class FilterError(ValueError):
    """A filter that cannot be applied; the message names the field and what it accepts."""


def check_tag(tag: str) -> str:
    """``tag`` if it follows :data:`TAG_RULE`, else a :class:`FilterError`."""
    if not isinstance(tag, str) or not TAG.match(tag):
        raise FilterError(f"Tag {str(tag)[:70]!r} is invalid: use {TAG_RULE}.")
    return tag


def _values(raw: Any, field: str) -> tuple[str, ...]:
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise FilterError(f"filters.{field} must be a string or a list of strings.")
    if len(values) > MAX_VALUES:
        raise FilterError(f"filters.{field} may list at most {MAX_VALUES} values.")
    return tuple(dict.fromkeys(v.strip() for v in values if v.strip()))


def _when(raw: Any, field: str) -> str:
    """An ISO-8601 date or time as stored (``YYYY-MM-DDTHH:MM:SSZ``, UTC), or ``""``."""
    if raw in (None, ""):
        return ""
    try:
        when = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    except ValueError:
        raise FilterError(
            f"filters.{field} must be an ISO-8601 date or time, e.g. 2026-01-31 or "
            f"2026-01-31T12:00:00Z, not {str(raw)[:40]!r}."
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return stamp(when)


def stamp(when: datetime) -> str:
    """How ``ingested_at`` is stored: UTC, to the second, so strings sort as times do."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(value: str) -> str:
    """A SQL string literal (quotes doubled: the value can never end the literal)."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class DocFilter:
    """Conditions on a document's ingest metadata; an empty filter matches everything."""

    source_prefix: str = ""
    """The document's display path (or URL) starts with this, e.g. ``handbook/``."""
    tags: tuple[str, ...] = ()
    """The document has one of these tags."""
    file_types: tuple[str, ...] = ()
    """The document's type is one of these: ``md``, ``pdf``, ``html``, ``txt``, ..."""
    ingested_after: str = ""
    """Written at or after this time (UTC, ``YYYY-MM-DDTHH:MM:SSZ``)."""
    ingested_before: str = ""
    """Written before this time."""

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | DocFilter | None) -> DocFilter:
        """The filter a client sent (``{"tags": [...], ...}``); a :class:`FilterError` names
        the first field that is wrong, unknown fields included.
        """  # noqa: D205
        if isinstance(raw, DocFilter):
            return raw
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise FilterError('filters must be an object, e.g. {"tags": ["hr"]}.')
        unknown = sorted(set(raw) - set(KEYS))
        if unknown:
            raise FilterError(f"Unknown filter {unknown[0][:40]!r}; use {', '.join(KEYS)}.")
        prefix = raw.get("source_prefix") or ""
        if not isinstance(prefix, str) or len(prefix) > MAX_PREFIX:
            raise FilterError(f"filters.source_prefix must be text of at most {MAX_PREFIX} chars.")
        if any(not ch.isprintable() for ch in prefix) or "*" in prefix or "?" in prefix:
            raise FilterError("filters.source_prefix may not hold control characters, * or ?.")
        tags = tuple(check_tag(t) for t in _values(raw.get("tags") or (), "tags"))
        types = tuple(
            t.lower().lstrip(".") for t in _values(raw.get("file_types") or (), "file_types")
        )
        for kind in types:
            if not FILE_TYPE.match(kind):
                raise FilterError(f"File type {kind[:20]!r} is invalid: use an extension like md.")
        return cls(
            source_prefix=prefix,
            tags=tags,
            file_types=types,
            ingested_after=_when(raw.get("ingested_after"), "ingested_after"),
            ingested_before=_when(raw.get("ingested_before"), "ingested_before"),
        )

    def __bool__(self) -> bool:
        """Whether the filter restricts anything."""
        return bool(
            self.source_prefix
            or self.tags
            or self.file_types
            or self.ingested_after
            or self.ingested_before
        )

    def describe(self) -> str:
        """One line for the path, e.g. ``tags=hr,legal; file_types=pdf``."""
        parts = []
        for key in KEYS:
            value = getattr(self, key)
            if value:
                parts.append(f"{key}={','.join(value) if isinstance(value, tuple) else value}")
        return "; ".join(parts)

    def to_sql(self) -> str:
        """The LanceDB ``WHERE`` clause over the ``display``, ``tags``, ``file_type`` and
        ``ingested_at`` columns ("" when empty). Every value is validated or quoted.
        """  # noqa: D205
        clauses = []
        if self.source_prefix:
            clauses.append(f"starts_with(display, {_quote(self.source_prefix)})")
        if self.tags:
            any_tag = " OR ".join(
                f"strpos(tags, {_quote(TAG_SEPARATOR + t + TAG_SEPARATOR)}) > 0" for t in self.tags
            )
            clauses.append(f"({any_tag})")
        if self.file_types:
            clauses.append(f"file_type IN ({', '.join(_quote(t) for t in self.file_types)})")
        if self.ingested_after:
            clauses.append(f"ingested_at >= {_quote(self.ingested_after)}")
        if self.ingested_before:
            clauses.append(f"ingested_at < {_quote(self.ingested_before)}")
        return " AND ".join(clauses)

    def to_weaviate(self):
        """The Weaviate ``Filter`` for this filter (``None`` when empty)."""
        from weaviate.classes.query import Filter

        parts = []
        if self.source_prefix:
            parts.append(Filter.by_property("display").like(self.source_prefix + "*"))
        if self.tags:
            parts.append(Filter.by_property("tags").contains_any(list(self.tags)))
        if self.file_types:
            parts.append(Filter.by_property("file_type").contains_any(list(self.file_types)))
        if self.ingested_after:
            when = datetime.fromisoformat(self.ingested_after)
            parts.append(Filter.by_property("ingested_at").greater_or_equal(when))
        if self.ingested_before:
            when = datetime.fromisoformat(self.ingested_before)
            parts.append(Filter.by_property("ingested_at").less_than(when))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Filter.all_of(parts)


def tags_column(tags: Any) -> str:
    """A document's tags as stored in LanceDB's ``tags`` column: ``|a|b|`` (``""`` for none)."""
    if not tags:
        return ""
    values = [tags] if isinstance(tags, str) else list(tags)
    return TAG_SEPARATOR + TAG_SEPARATOR.join(sorted(set(map(str, values)))) + TAG_SEPARATOR
