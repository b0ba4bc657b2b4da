"""Korean BM25 tokenizers side by side: character bigrams, morphemes (kiwipiepy), both.

Belebele Korean questions over the Korean passages (900 questions, 488 passages), indexed with
language ``ko`` through the public API (:mod:`benchmarks.quick_retrieval`'s ``build``), searched
with ``hybrid_search`` (k=10). Each variant swaps only the in-process BM25 tokenizer of Korean
corpora (:func:`tools.index.bm25.tokenizer`); fusion's lexical coverage stays on bigrams. R@1 is
also given on the even and odd questions apart, as a check that a gain is not one lucky half.
Then the analyzer's cost, each in a fresh process: load time, resident memory, and analysis
time per character of passage text (the ingest cost, cold cache).

Run from the repository root (``make bench-korean``)::

    .venv/bin/python -m benchmarks.korean_tokenizer [--out benchmarks/results/korean.md]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from benchmarks.quick_retrieval import BELEBELE, build, evaluate, load_belebele
from tools.index import bm25, morph, scoring


def _morphemes_only(text: str) -> list[str]:
    """Non-Hangul terms (Latin words, numbers) and the Hangul words' morphemes, no bigrams."""
    terms = [t for t in scoring.tokenize(text) if not morph._HANGUL.search(t)]
    words = morph._WORD.findall(text.lower())
    return terms + [m for w in words if morph._HANGUL.search(w) for m in morph.word_morphemes(w)]


VARIANTS: dict[str, Callable[[str], list[str]]] = {
    "bigrams (before)": scoring.tokenize,
    "morphemes only": _morphemes_only,
    "bigrams + morphemes (kept)": morph.korean_tokenize,
}


@contextmanager
def korean_bm25(tokenize: Callable[[str], list[str]]):
    """Make ``tokenize`` the BM25 tokenizer of Korean corpora for the duration."""
    original = bm25.tokenizer

    def patched(language, stem_language):
        return tokenize if language == "ko" else original(language, stem_language)

    bm25.tokenizer = patched
    try:
        yield
    finally:
        bm25.tokenizer = original


def quality(path: Path) -> list[dict]:
    """R@1/R@5/MRR@10/p50 of each variant on all questions, R@1 on the even and odd halves."""
    docs, questions = load_belebele(path, "ko")
    rows = []
    for name, tokenize in VARIANTS.items():
        morph.word_morphemes.cache_clear()  # each variant starts with an empty word cache
        with korean_bm25(tokenize), tempfile.TemporaryDirectory() as tmp:
            index = build(docs, tmp, language="ko")

            def search(q, index=index):
                return index.hybrid_search(q, k=10)

            every = evaluate(search, questions)
            even = evaluate(search, questions[0::2])
            odd = evaluate(search, questions[1::2])
        rows.append({"variant": name, **every, "r1_even": even["r1"], "r1_odd": odd["r1"]})
        print(
            f"  {name:<28} R@1={every['r1']:.3f} R@5={every['r5']:.3f}"
            f" MRR@10={every['mrr10']:.3f} (R@1 even {even['r1']:.3f}, odd {odd['r1']:.3f})"
            f" p50={every['p50_ms']:.2f}ms p95={every['p95_ms']:.2f}ms",
            flush=True,
        )
    return rows


_COST_PROBE = """
import json, sys, time, psutil
from benchmarks.quick_retrieval import BELEBELE, load_belebele
docs, _ = load_belebele(BELEBELE, "ko")
texts = [d.page_content for d in docs]
proc = psutil.Process()
rss0 = proc.memory_info().rss
t0 = time.perf_counter()
from tools.index import morph
morph.analyzer()
load_s = time.perf_counter() - t0
rss1 = proc.memory_info().rss
t0 = time.perf_counter()
for t in texts:
    morph.korean_tokenize(t)
cold_s = time.perf_counter() - t0
t0 = time.perf_counter()
for t in texts:
    morph.korean_tokenize(t)
warm_s = time.perf_counter() - t0
t0 = time.perf_counter()
for t in texts:
    morph.tokenize(t)
bigram_s = time.perf_counter() - t0
chars = sum(map(len, texts))
print(json.dumps({"load_s": load_s, "rss_load_mb": (rss1 - rss0) / 1e6,
                  "rss_after_mb": (proc.memory_info().rss - rss0) / 1e6,
                  "chars": chars, "cold_us_per_char": cold_s / chars * 1e6,
                  "warm_us_per_char": warm_s / chars * 1e6,
                  "bigram_us_per_char": bigram_s / chars * 1e6}))
"""


def cost(repeats: int = 3) -> list[dict]:
    """The analyzer's load time, memory and analysis cost, each repeat in a fresh process."""
    import json

    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _COST_PROBE], capture_output=True, text=True, env=env, check=True
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = runs[-1]
        print(
            f"  load {r['load_s']:.2f}s, RSS +{r['rss_load_mb']:.0f} MB loaded,"
            f" +{r['rss_after_mb']:.0f} MB after {r['chars']} chars; tokenize cold"
            f" {r['cold_us_per_char']:.1f} us/char, warm {r['warm_us_per_char']:.2f} us/char,"
            f" bigrams alone {r['bigram_us_per_char']:.2f} us/char",
            flush=True,
        )
    return runs


def report(rows: list[dict], costs: list[dict], load: str) -> str:
    """The markdown report."""
    lines = [
        "# Korean BM25 tokenizers: bigrams, morphemes, both",
        "",
        "Written by `make bench-korean` (`python -m benchmarks.korean_tokenizer`). Belebele Korean",
        "questions over the Korean passages (900 questions, 488 passages), `hybrid_search` k=10;",
        "only the in-process BM25 tokenizer of Korean corpora changes between rows (fusion's",
        "lexical coverage stays on bigrams). R@1 even/odd: the two halves of the questions apart.",
        f"Machine load during the run (`uptime`): {load}.",
        "",
        "| BM25 tokenizer | R@1 | R@5 | MRR@10 | R@1 even | R@1 odd | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['r1']:.3f} | {r['r5']:.3f} | {r['mrr10']:.3f} "
            f"| {r['r1_even']:.3f} | {r['r1_odd']:.3f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} |"
        )
    lines += [
        "",
        "Analyzer cost (kiwipiepy `Kiwi(num_workers=-1, load_multi_dict=False,"
        " load_typo_dict=False)`), each row a fresh process: tokenizing the 488 passages with"
        " an empty word cache (cold) and again (warm), against bigrams alone.",
        "",
        "| load s | RSS loaded MB | RSS after passages MB | cold µs/char | warm µs/char"
        " | bigrams µs/char |",
        "|---|---|---|---|---|---|",
    ]
    for c in costs:
        lines.append(
            f"| {c['load_s']:.2f} | {c['rss_load_mb']:.0f} | {c['rss_after_mb']:.0f} "
            f"| {c['cold_us_per_char']:.1f} | {c['warm_us_per_char']:.2f} "
            f"| {c['bigram_us_per_char']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the comparison, print it, and write the report when ``--out`` is given."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--belebele", type=Path, default=BELEBELE)
    ap.add_argument("--out", type=Path, help="write the markdown report here")
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes for the cost probe")
    args = ap.parse_args()
    load_before = os.getloadavg()
    print("Belebele-ko (ko questions over ko passages): hybrid_search by BM25 tokenizer")
    t0 = time.perf_counter()
    rows = quality(args.belebele)
    print(f"  ({time.perf_counter() - t0:.0f}s)\nAnalyzer cost")
    costs = cost(args.repeats)
    load_after = os.getloadavg()
    load = (
        f"load average {load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end"
        f" ({os.cpu_count()} cores)"
    )
    print(f"  {load}")
    if args.out:
        args.out.write_text(report(rows, costs, load), encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
