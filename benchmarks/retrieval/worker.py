"""One benchmark job in its own process, so its time and peak memory are its own.

Reads a job (JSON) on stdin, runs it and prints the result as one JSON line on stdout. Jobs:

* ``dataset``: build one stack over a dataset's chunks, ask its questions;
* ``scale``: build one stack over the first ``size`` rows of the cached synthetic corpus, ask
  the planted questions;
* ``ingest``: ``tools.ingest.pipeline.ingest`` over a folder of files, twice (first run, then
  an unchanged re-run).

Peak memory is this process's peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``), read at the end.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from arag.evaluation.metrics import latency_ms, score_rankings
from benchmarks.retrieval.common import sample_questions

WARMUP_QUERY = "warm up query"


def _peak_rss_mb() -> float:
    # VmHWM is this process's own peak; ru_maxrss would carry over the parent's peak through
    # fork + exec, so it is only the fallback where /proc is missing.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _make_stack(kind: str, embeddings, language: str | None = None):
    if kind == "seed":
        from benchmarks.retrieval.seed_stack import SeedStack

        return SeedStack(embeddings)
    if kind == "ours":
        from benchmarks.retrieval.our_stack import OurStack

        return OurStack(embeddings, language=language)
    if kind == "bm25s":
        from benchmarks.retrieval.bm25s_stack import Bm25sStack

        return Bm25sStack(embeddings)
    raise ValueError(f"unknown stack {kind!r}")


def _ask(stack, questions: list[tuple[str, list[str]]], expand: bool) -> dict:
    stack.search(WARMUP_QUERY)
    rankings, seconds, cpu = [], [], []
    for text, _ in questions:
        t, c = time.perf_counter(), time.process_time()
        rankings.append(stack.search(text))
        seconds.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    golds = [gold for _, gold in questions]
    out = {"n_questions": len(questions), **score_rankings(rankings, golds), **latency_ms(seconds)}
    # CPU seconds of this process (all threads) per query: unlike wall-clock latency, it
    # barely moves when other jobs share the machine.
    out["cpu_p50_ms"] = latency_ms(cpu)["p50_ms"]
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    if expand and hasattr(stack, "search_expanded"):
        expanded = [stack.search_expanded(text) for text, _ in questions]
        out["all_gold5_expanded"] = score_rankings(expanded, golds)["all_gold5"]
        out["r5_expanded"] = score_rankings(expanded, golds)["r5"]
        out["expansion"] = getattr(stack, "expansion_name", "")
    return out


def run_dataset(job: dict) -> dict:
    """Build ``job["stack"]`` over the dataset's chunks and score its questions."""
    from arag.evaluation.datasets import corpus_chunks, select
    from tools.embeddings import load_embeddings

    ds = select(job["path"], job.get("language", ""))
    questions = [(q.text, list(q.gold)) for q in ds.questions]
    questions = sample_questions(questions, job.get("limit"))
    chunks = corpus_chunks(ds.paragraphs)
    embeddings = load_embeddings("wordllama")
    embeddings.embed_query(WARMUP_QUERY)  # load the model outside the timed build
    stack = _make_stack(job["stack"], embeddings)
    t0 = time.perf_counter()
    stack.add(chunks)
    stack.finish()
    build_s = time.perf_counter() - t0
    result = _ask(stack, questions, expand=ds.multi_hop)
    return {
        "dataset": ds.name,
        "format": ds.fmt,
        "paragraphs": len(ds.paragraphs),
        "chunks": len(chunks),
        "build_s": build_s,
        **result,
    }


def run_scale(job: dict) -> dict:
    """Build ``job["stack"]`` over ``job["size"]`` cached synthetic rows and ask the questions."""
    from benchmarks.retrieval.embeddings import CachedVectors
    from benchmarks.retrieval.scale import iter_corpus
    from tools.embeddings import load_embeddings

    base = load_embeddings("wordllama")
    base.embed_query(WARMUP_QUERY)
    embeddings = CachedVectors(base)
    stack = _make_stack(job["stack"], embeddings, language="en")
    t0 = time.perf_counter()
    rows = 0
    for docs, vectors in iter_corpus(Path(job["cache_dir"]), job["size"]):
        stack.add(docs, vectors)
        rows += len(docs)
    stack.finish()
    # The in-memory copy (our stack) is built after the index and reported on its own.
    warm_s = getattr(stack, "warm_s", None)
    build_s = time.perf_counter() - t0 - (warm_s or 0.0)
    questions = [(q, gold) for q, gold in job["questions"]]
    extra = {"warm_s": warm_s, "in_memory": stack.in_memory} if warm_s is not None else {}
    return {"size": rows, "build_s": build_s, **extra, **_ask(stack, questions, expand=False)}


def run_ingest(job: dict) -> dict:
    """``tools.ingest.pipeline.ingest`` over ``job["files_dir"]`` into a fresh index, then again.

    With ``job["warm_up_dir"]``, that folder is ingested first, untimed, into another index.
    """
    from tools.embeddings import load_embeddings
    from tools.ingest.pipeline import ingest
    from tools.text.language import load_language_model

    embeddings = load_embeddings("wordllama")
    embeddings.embed_query(WARMUP_QUERY)
    load_language_model()  # the language identifier too (a server loads both at start)
    # Import what the first ingest call would import (~3-5 s here, once per process), so the
    # rate measures ingestion work, as the model warm-up above does for its loading.
    import lancedb  # noqa: F401
    from langchain_classic.indexes import SQLRecordManager, index  # noqa: F401

    if job.get("warm_up_dir"):
        # A process that has ingested before (a server): other files, so the word caches
        # start with that corpus's vocabulary only.
        with tempfile.TemporaryDirectory(prefix="arag-bench-warm-") as warm_dir:
            ingest([job["warm_up_dir"]], warm_dir, embeddings)
    with tempfile.TemporaryDirectory(prefix="arag-bench-ingest-") as data_dir:
        load_start = os.getloadavg()[0]
        cpu0, t0 = time.process_time(), time.perf_counter()
        first = ingest([job["files_dir"]], data_dir, embeddings)
        first_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
        t0 = time.perf_counter()
        again = ingest([job["files_dir"]], data_dir, embeddings)
        again_s = time.perf_counter() - t0
        texts = lancedb.connect(f"{data_dir}/lancedb").open_table("chunks").to_arrow()["text"]
        tokens = sum(embeddings.token_counts(texts.to_pylist()))
    return {
        "files": first.files_ok,
        "chunks": first.num_added,
        "tokens": tokens,
        "first_s": first_s,
        "cpu_s": cpu_s,
        "chunks_per_s": first.num_added / first_s if first_s else 0.0,
        "tokens_per_s": tokens / first_s if first_s else 0.0,
        "reingest_s": again_s,
        "reingest_changed": again.changed,
        "reingest_ratio": again_s / first_s if first_s else 0.0,
        "load_avg_1m": round(max(load_start, os.getloadavg()[0]), 2),
    }


def main() -> None:
    """Run the job read from stdin; print its result (with peak RSS) as the last line."""
    job = json.loads(sys.stdin.read())
    runner = {"dataset": run_dataset, "scale": run_scale, "ingest": run_ingest}[job["kind"]]
    result = runner(job)
    result["peak_rss_mb"] = _peak_rss_mb()
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
