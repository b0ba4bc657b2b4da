"""Offline multi-hop retrieval: entity expansion from the first hits (no LLM).

A bridge question ("Which year was the director of Film X born?") names one entity; the second
document it needs is about an entity that only the first document names (the director). So
:func:`expand_search` searches once, takes the capitalised names in the top hits that the
question does not contain (the bridge candidates), searches again for the question plus each
hit's names, and fuses the lists by reciprocal rank, the first search weighted highest.
"""

from __future__ import annotations

import re
from collections import Counter

from langchain_core.documents import Document

from tools.index.base import HybridIndex
from tools.index.scoring import STOPWORDS, tokenize

HOPS_FROM = 2  # top hits whose names seed a second search
NAMES_PER_HIT = 3  # names taken from each of them
FIRST_WEIGHT = 1.5  # the first search's weight in the fusion (its top hit must stay on top)
RRF_K = 10  # small: ranks near the top should dominate

# A name: capitalised words, optionally joined by a lowercase particle ("Bank of America").
_NAME = re.compile(
    r"\b[A-Z][\w'’.-]*(?:\s+(?:of|the|de|la|von|van|and|du|del)?\s*[A-Z][\w'’.-]*)*", re.UNICODE
)


def bridge_names(text: str, exclude: str, limit: int = NAMES_PER_HIT) -> list[str]:
    """The most frequent capitalised names of ``text`` whose terms are not all in ``exclude``.

    Names made only of stopwords ("The", "He") are skipped; ties keep the order of appearance.
    """
    known = set(tokenize(exclude))
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for i, match in enumerate(_NAME.finditer(text)):
        name = match.group(0).strip(" .'’-")
        words = name.lower().split()
        if not name or all(w in STOPWORDS for w in words):
            continue
        terms = set(tokenize(name))
        if not terms or terms <= known:
            continue
        counts[name] += 1
        first_seen.setdefault(name, i)
    ranked = sorted(counts, key=lambda n: (-counts[n], first_seen[n]))
    return ranked[:limit]


def expand_search(index: HybridIndex, query: str, k: int = 5) -> list[Document]:
    """Hybrid search plus one hop of entity expansion; at most ``k`` documents, best first.

    Searches ``query``; for each of the top ``HOPS_FROM`` hits, searches ``query`` plus the
    hit's bridge names (:func:`bridge_names`, excluding the query's and the hit's title
    terms); fuses all lists by weighted reciprocal rank. Each document keeps the metadata
    (calibrated ``score`` included) of its best-ranked appearance; ``hop`` is 0 for documents
    of the first search and 1 for documents only the expansion found.
    """
    depth = max(k, 10)
    first = index.hybrid_search(query, k=depth)
    lists: list[tuple[float, list[Document]]] = [(FIRST_WEIGHT, first)]
    for hit in first[:HOPS_FROM]:
        names = bridge_names(hit.page_content, f"{query} {hit.metadata.get('title', '')}")
        if names:
            lists.append((1.0, index.hybrid_search(f"{query} {' '.join(names)}", k=depth)))
    fused: dict[str, float] = {}
    best: dict[str, Document] = {}
    for hop, (weight, docs) in enumerate(lists):
        for rank, doc in enumerate(docs):
            key = str(doc.metadata.get("chunk_id") or doc.id)
            fused[key] = fused.get(key, 0.0) + weight / (RRF_K + rank + 1)
            if key not in best:
                doc.metadata["hop"] = min(hop, 1)
                best[key] = doc
    order = sorted(fused, key=lambda key: -fused[key])[:k]
    results = [best[key] for key in order]
    for rank, doc in enumerate(results):
        doc.metadata["rank"] = rank
    return results
