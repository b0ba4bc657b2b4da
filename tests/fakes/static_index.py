"""A HybridIndex whose hits and scores are fixed per query, to steer the graph's routes exactly."""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.documents import Document

from tools.index.base import IndexMeta

# Its scores are given, not computed from cosines: it counts as calibrated.
FIXED_SCORES = {"embedding_model": "fake:8", "cos_low": 0.0, "cos_high": 1.0, "fitted_on": "given"}


@dataclass
class StaticIndex:
    """Returns ``hits[query]`` (or ``default``) for every search; records the queries it saw.

    Each hit is ``(chunk_id, text, score)``; the source is ``<chunk_id without #n>.md``.
    """

    hits: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)
    default: list[tuple[str, str, float]] = field(default_factory=list)
    meta: IndexMeta = field(
        default_factory=lambda: IndexMeta("fake:8", 8, "en", "static", FIXED_SCORES)
    )
    searches: list[str] = field(default_factory=list)
    data_dir: None = None
    reranker: None = None
    record_namespace: str = "static"

    def hybrid_search(self, query: str, k: int = 5) -> list[Document]:
        self.searches.append(query)
        rows = self.hits.get(query, self.default)[:k]
        return [
            Document(
                page_content=text,
                metadata={
                    "chunk_id": cid,
                    "source": cid.split("#")[0] + ".md",
                    "title": cid.split("#")[0].title(),
                    "score": score,
                },
            )
            for cid, text, score in rows
        ]

    def count(self) -> int:
        return len(self.default) + sum(len(v) for v in self.hits.values())

    def set_language(self, code: str) -> None:
        self.meta = IndexMeta(
            self.meta.embedding_model, self.meta.dimensions, code, "static", FIXED_SCORES
        )

    def refresh_fts(self) -> None:
        pass

    def close(self) -> None:
        pass
