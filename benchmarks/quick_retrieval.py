"""Quick retrieval benchmark of our index, plus the probe-score distributions for thresholds.

A developer's loop, not the side-by-side comparison (that is ``make bench-retrieval``). Each
dataset is indexed as whole-paragraph chunks (the text starting with its title line, as the
chunker does) into a temporary LanceDB index through the public API, and its questions are asked
with ``hybrid_search``. Datasets (from ``../shared/data`` or ``$ARAG_SHARED_DATA``):

* ``xquad``: XQuAD-en, 1,190 questions over 240 paragraphs; also BM25-only / dense-only R@1,
  and the probe-score distributions in-corpus vs out-of-corpus (HotpotQA questions asked against
  the XQuAD index) and of gold vs non-gold top-5 chunks (for the graph's thresholds);
* ``belebele-en``: Belebele English questions over the English passages;
* ``belebele-ko``: Belebele Korean questions over the Korean passages (a Korean corpus, indexed
  with language ``ko``), with whitespace ``rank_bm25`` as the seed-style reference;
* ``hotpot``: HotpotQA-151, pooled context paragraphs as the corpus, "all gold paragraphs in the
  top 5", with and without multi-hop expansion (:func:`tools.index.multihop.expand_search`);
* ``scale``: a synthetic corpus of ``--scale-rows`` chunks (random sentences of the shared sets
  recombined, see :func:`synthetic_corpus`) with the XQuAD paragraphs inside it: ingest rate,
  optimize time, query latency and XQuAD R@1 in the big corpus.

Run from the repository root::

    PYTHONPATH=. python benchmarks/quick_retrieval.py [--only xquad,belebele-en,...]
    PYTHONPATH=. python benchmarks/quick_retrieval.py --only scale --scale-rows 100000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from langchain_core.documents import Document

from arag.evaluation import datasets
from arag.evaluation.datasets import Passage, Question, paragraph_documents, select
from arag.evaluation.metrics import latency_ms, score_rankings
from tools.embeddings import load_embeddings
from tools.index.lance import LanceIndex

# The shared QA sets sit beside the repository (../shared/data); ARAG_SHARED_DATA overrides.
XQUAD = datasets.SHARED_DATA / datasets.XQUAD_EN
BELEBELE = datasets.SHARED_DATA / datasets.BELEBELE
HOTPOT = datasets.SHARED_DATA / datasets.HOTPOT

LABELS = {"r1": "R@1", "r5": "R@5", "mrr10": "MRR@10", "all_gold5": "all_gold@5"}


def load_xquad(path: Path = XQUAD) -> tuple[list[Document], list[Question]]:
    """Whole-paragraph documents (ids = paragraph ids) and the questions with their gold ids."""
    ds = select(path)
    return paragraph_documents(ds.paragraphs), ds.questions


def load_belebele(path: Path = BELEBELE, lang: str = "en") -> tuple[list[Document], list[Question]]:
    """Passages in ``lang`` (one per link; Belebele has no titles), that language's questions."""
    ds = select(path, lang, passage_language=lang)
    return paragraph_documents(ds.paragraphs), ds.questions


def load_hotpot(path: Path = HOTPOT) -> tuple[list[Document], list[Question], list[str]]:
    """Pooled context paragraphs (one per title), questions with all gold titles, and types."""
    ds = select(path)
    return paragraph_documents(ds.paragraphs), ds.questions, [item.kind for item in ds.items]


def pct(values, qs=(10, 50, 90)) -> str:
    """Percentiles formatted as ``p10=.. p50=.. p90=..``."""
    return " ".join(f"p{q}={np.percentile(values, q):.3f}" for q in qs)


def build(docs: list[Document], tmp: str, language: str = "en") -> LanceIndex:
    """Index ``docs`` (ids = chunk ids) into a new LanceDB index in ``tmp``."""
    emb = load_embeddings("wordllama")
    index = LanceIndex.open(tmp, emb, create=True, language=language)
    t0 = time.perf_counter()
    index.add_documents(docs, ids=[d.metadata["chunk_id"] for d in docs])
    index.optimize()
    print(f"  indexed {index.count()} chunks in {time.perf_counter() - t0:.1f}s")
    return index


def evaluate(
    search: Callable[[str], list[Document]], questions: list[Question]
) -> dict[str, float]:
    """R@1, R@5, MRR@10 (first gold hit), all-gold@5 and latency percentiles of ``search``."""
    search(questions[0].text)  # warm-up: lazily loaded state
    rankings, seconds = [], []
    for question in questions:
        t = time.perf_counter()
        results = search(question.text)
        seconds.append(time.perf_counter() - t)
        rankings.append([d.metadata["chunk_id"] for d in results])
    golds = [q.gold for q in questions]
    return {"n": len(questions), **score_rankings(rankings, golds), **latency_ms(seconds)}


def show(name: str, m: dict[str, float], keys=("r1", "r5", "mrr10")) -> None:
    """One result line: the metrics ``keys`` (see ``LABELS``) and the latency percentiles."""
    figures = "  ".join(f"{LABELS[k]}={m[k]:.3f}" for k in keys)
    print(f"  {name:<26} {figures}  p50={m['p50_ms']:.1f}ms p95={m['p95_ms']:.1f}ms")


def components(index: LanceIndex, questions: list[Question]) -> None:
    """R@1 of BM25 alone and dense alone, through the index's own candidate lists."""
    bm25 = evaluate(lambda q: [c.doc for c in index.bm25_candidates(q, 10)], questions)
    dense = evaluate(lambda q: index.similarity_search(q, k=10), questions)
    show("BM25 only", bm25)
    show("dense only", dense)


def run_xquad(args) -> None:
    """XQuAD-en quality, latency and the probe/relevance score distributions."""
    print("XQuAD-en")
    docs, questions = load_xquad(args.xquad)
    with tempfile.TemporaryDirectory() as tmp:
        index = build(docs, tmp)
        show("hybrid", evaluate(lambda q: index.hybrid_search(q, k=10), questions))
        components(index, questions)
        top_in, gold_scores, other_scores = [], [], []
        for question in questions:
            results = index.hybrid_search(question.text, k=5)
            top_in.append(results[0].metadata["score"] if results else 0.0)  # = index.probe()
            for d in results:
                in_gold = d.metadata["chunk_id"] in question.gold
                (gold_scores if in_gold else other_scores).append(d.metadata["score"])
        top_out = [index.probe(q.text) for q in load_hotpot(args.hotpot)[1]]
        print(f"  probe score, in-corpus (XQuAD, n={len(top_in)}):          {pct(top_in)}")
        print(f"  probe score, out-of-corpus (HotpotQA, n={len(top_out)}): {pct(top_out)}")
        for thr in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65):
            print(
                f"    threshold {thr:.2f}: in-corpus >= {np.mean(np.array(top_in) >= thr):.1%}"
                f"   out-of-corpus >= {np.mean(np.array(top_out) >= thr):.1%}"
            )
        print(f"  top-5 chunk score, gold (n={len(gold_scores)}):      {pct(gold_scores)}")
        print(f"  top-5 chunk score, non-gold (n={len(other_scores)}): {pct(other_scores)}")
        gold_a, other_a = np.array(gold_scores), np.array(other_scores)
        for thr in (0.35, 0.4, 0.45, 0.5, 0.55):
            print(
                f"    relevance {thr:.2f}: gold kept {np.mean(gold_a >= thr):.1%}"
                f"   non-gold kept {np.mean(other_a >= thr):.1%}"
            )


def whitespace_bm25(docs: list[Document]) -> Callable[[str], list[Document]]:
    """The seed stack's lexical retriever: rank_bm25 over whitespace-split text."""
    from rank_bm25 import BM25Okapi

    bm25 = BM25Okapi([d.page_content.split() for d in docs])

    def search(query: str) -> list[Document]:
        scores = bm25.get_scores(query.split())
        return [docs[i] for i in np.argsort(-scores)[:10]]

    return search


def run_belebele(args, lang: str) -> None:
    """Belebele questions in ``lang`` over the passages in ``lang``."""
    print(f"Belebele-{lang} ({lang} questions over {lang} passages)")
    docs, questions = load_belebele(args.belebele, lang)
    with tempfile.TemporaryDirectory() as tmp:
        index = build(docs, tmp, language=lang)
        show("hybrid", evaluate(lambda q: index.hybrid_search(q, k=10), questions))
        components(index, questions)
        if lang != "en":
            show("whitespace rank_bm25 (seed)", evaluate(whitespace_bm25(docs), questions))


def run_hotpot(args) -> None:
    """HotpotQA all-gold@5, plain and with multi-hop expansion, by question type."""
    from tools.index.multihop import expand_search

    print("HotpotQA-151 (pooled paragraphs; all gold in top 5)")
    docs, questions, types = load_hotpot(args.hotpot)
    keys = ("all_gold5", "r1", "r5")
    with tempfile.TemporaryDirectory() as tmp:
        index = build(docs, tmp)
        for name, fn in (
            ("hybrid", lambda q: index.hybrid_search(q, k=10)),
            ("hybrid + expand_search", lambda q: expand_search(index, q, k=10)),
        ):
            show(name, evaluate(fn, questions), keys)
            for kind in sorted(set(types)):
                subset = [q for q, t in zip(questions, types, strict=True) if t == kind]
                show(f"  {kind} (n={len(subset)})", evaluate(fn, subset), keys)
        bm25 = evaluate(lambda q: [c.doc for c in index.bm25_candidates(q, 10)], questions)
        show("BM25 only", bm25, keys)


def synthetic_corpus(n: int, seed: int = 0) -> list[Document]:
    """``n`` synthetic chunks: 3-8 random sentences of the shared sets' passages each.

    Sentences come from all shared sets (XQuAD, Belebele-en, HotpotQA), so vocabulary and
    length are those of real prose; titles are random pairs of real titles. Every chunk is
    distinct, and they compete with the real paragraphs for every query.
    """
    rng = random.Random(seed)
    sentences: list[str] = []
    titles: list[str] = []
    for doc in load_xquad()[0] + load_belebele()[0] + load_hotpot()[0]:
        text = doc.page_content.split("\n\n", 1)[-1]
        sentences.extend(s.strip() + "." for s in text.split(". ") if len(s) > 20)
        if doc.metadata["title"]:
            titles.append(doc.metadata["title"])
    passages = []
    for i in range(n):
        title = f"{rng.choice(titles)} {rng.choice(titles)}"
        body = " ".join(rng.choices(sentences, k=rng.randint(3, 8)))
        passages.append(Passage(f"syn-{i}", title, body))
    return paragraph_documents(passages)


def run_scale(args) -> None:
    """Ingest rate, optimize time, latency and XQuAD R@1 inside a large synthetic corpus."""
    from tools.index.scoring import fuse  # noqa: F401  (import cost outside the timings)

    rows = args.scale_rows
    print(f"Scale: {rows} synthetic chunks + the 240 XQuAD paragraphs")
    xdocs, questions = load_xquad(args.xquad)
    docs = synthetic_corpus(rows) + xdocs
    emb = load_embeddings("wordllama")
    with tempfile.TemporaryDirectory() as tmp:
        index = LanceIndex.open(tmp, emb, create=True)
        t0 = time.perf_counter()
        index.add_documents(docs, ids=[d.metadata["chunk_id"] for d in docs])
        t_add = time.perf_counter() - t0
        t0 = time.perf_counter()
        index.optimize()
        t_opt = time.perf_counter() - t0
        print(
            f"  add_documents {len(docs)} chunks: {t_add:.1f}s ({len(docs) / t_add:.0f} chunks/s);"
            f" optimize (FTS + vector index): {t_opt:.1f}s; indices: {index.index_summary()}"
        )
        sample = questions[:: max(1, len(questions) // 300)]
        show("hybrid (XQuAD questions)", evaluate(lambda q: index.hybrid_search(q, k=5), sample))


RUNNERS = {
    "xquad": run_xquad,
    "belebele-en": lambda a: run_belebele(a, "en"),
    "belebele-ko": lambda a: run_belebele(a, "ko"),
    "hotpot": run_hotpot,
    "scale": run_scale,
}


def main() -> None:
    """Run the selected datasets and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="xquad,belebele-en,belebele-ko,hotpot")
    ap.add_argument("--xquad", type=Path, default=XQUAD)
    ap.add_argument("--belebele", type=Path, default=BELEBELE)
    ap.add_argument("--hotpot", type=Path, default=HOTPOT)
    ap.add_argument("--scale-rows", type=int, default=10_000)
    args = ap.parse_args()
    for name in args.only.split(","):
        RUNNERS[name.strip()](args)


if __name__ == "__main__":
    main()
