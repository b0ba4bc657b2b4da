"""Quick retrieval benchmark on XQuAD-en, plus the probe-score distributions for thresholds.

Indexes the 240 XQuAD-en paragraphs as whole-paragraph chunks (title = article title, the text
starting with the title line as the chunker does) into a temporary LanceDB index, then asks the
1,190 questions and prints:

* hybrid ``hybrid_search`` R@1, R@5 and MRR@10, and BM25-only / dense-only R@1;
* p50 / p90 query latency of ``hybrid_search(k=10)``;
* percentiles 10/50/90 of the probe score (calibrated score of the top result, what
  ``LanceIndex.probe`` returns) for in-corpus questions (XQuAD) and for out-of-corpus questions
  (HotpotQA dev, asked against the XQuAD index);
* percentiles of the calibrated score of gold vs non-gold chunks in the top 5 (for the
  relevance threshold).

Run from the repository root::

    PYTHONPATH=. python benchmarks/quick_retrieval.py [--xquad PATH] [--hotpot PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from langchain_core.documents import Document

from tools.embeddings import load_embeddings
from tools.index.lance import LanceIndex

# The shared QA sets sit beside the repository (../shared/data); ARAG_SHARED_DATA overrides.
DATA = Path(
    os.environ.get("ARAG_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)


def load_xquad(path: Path) -> tuple[list[Document], list[tuple[str, str]]]:
    """Paragraph documents and (question, gold chunk id) pairs."""
    docs, questions = [], []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        title = article["title"].replace("_", " ")
        for i, para in enumerate(article["paragraphs"]):
            chunk_id = f"{article['title']}#{i}"
            docs.append(
                Document(
                    page_content=f"{title}\n\n{para['context']}",
                    metadata={"source": article["title"], "chunk_id": chunk_id, "title": title},
                )
            )
            questions.extend((qa["question"], chunk_id) for qa in para["qas"])
    return docs, questions


def load_hotpot(path: Path) -> list[str]:
    """HotpotQA questions (out of corpus for XQuAD)."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["question"] for line in fh if line.strip()]


def pct(values, qs=(10, 50, 90)) -> str:
    """Percentiles formatted as ``p10=.. p50=.. p90=..``."""
    return " ".join(f"p{q}={np.percentile(values, q):.3f}" for q in qs)


def main() -> None:
    """Build the index, run the questions, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xquad", type=Path, default=DATA / "xquad/xquad.en.json")
    ap.add_argument(
        "--hotpot", type=Path, default=DATA / "hotpotqa/hotpotqa_dev_distractor_151.jsonl"
    )
    args = ap.parse_args()

    docs, questions = load_xquad(args.xquad)
    emb = load_embeddings("wordllama")
    with tempfile.TemporaryDirectory() as tmp:
        index = LanceIndex.open(tmp, emb, create=True)
        t0 = time.perf_counter()
        index.add_documents(docs, ids=[d.metadata["chunk_id"] for d in docs])
        index.refresh_fts()
        print(f"indexed {index.count()} paragraphs in {time.perf_counter() - t0:.1f}s")

        index.hybrid_search("warm up", k=10)  # first call loads lazily-built state
        hits1 = hits5 = 0
        rr, latencies, top_in = [], [], []
        gold_scores, other_scores = [], []  # calibrated scores of gold / other top-5 chunks
        bm25_1 = dense_1 = 0
        for question, gold in questions:
            t = time.perf_counter()
            results = index.hybrid_search(question, k=10)
            latencies.append(time.perf_counter() - t)
            ids = [d.metadata["chunk_id"] for d in results]
            hits1 += ids[:1] == [gold]
            hits5 += gold in ids[:5]
            rr.append(1.0 / (ids.index(gold) + 1) if gold in ids else 0.0)
            top_in.append(results[0].metadata["score"] if results else 0.0)  # = index.probe()
            for d in results[:5]:
                (gold_scores if d.metadata["chunk_id"] == gold else other_scores).append(
                    d.metadata["score"]
                )
            bm25 = index._bm25_rows(question, 1)
            bm25_1 += bool(bm25) and bm25[0]["chunk_id"] == gold
            dense_1 += index.similarity_search(question, k=1)[0].metadata["chunk_id"] == gold

        n = len(questions)
        print(f"questions: {n}")
        print(f"hybrid  R@1={hits1 / n:.3f}  R@5={hits5 / n:.3f}  MRR@10={sum(rr) / n:.3f}")
        print(f"BM25-only R@1={bm25_1 / n:.3f}  dense-only R@1={dense_1 / n:.3f}")
        ms = sorted(x * 1000 for x in latencies)
        print(
            f"hybrid_search(k=10) latency p50={statistics.median(ms):.1f}ms "
            f"p90={np.percentile(ms, 90):.1f}ms"
        )

        top_out = [index.probe(q) for q in load_hotpot(args.hotpot)]
        print(f"probe score, in-corpus (XQuAD, n={n}):          {pct(top_in)}")
        print(f"probe score, out-of-corpus (HotpotQA, n={len(top_out)}): {pct(top_out)}")
        for thr in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65):
            print(
                f"  threshold {thr:.2f}: in-corpus >= {np.mean(np.array(top_in) >= thr):.1%}"
                f"   out-of-corpus >= {np.mean(np.array(top_out) >= thr):.1%}"
            )
        print(f"top-5 chunk score, gold (n={len(gold_scores)}):      {pct(gold_scores)}")
        print(f"top-5 chunk score, non-gold (n={len(other_scores)}): {pct(other_scores)}")
        gold, other = np.array(gold_scores), np.array(other_scores)
        for thr in (0.35, 0.4, 0.45, 0.5, 0.55):
            print(
                f"  relevance {thr:.2f}: gold kept {np.mean(gold >= thr):.1%}"
                f"   non-gold kept {np.mean(other >= thr):.1%}"
            )


if __name__ == "__main__":
    main()
