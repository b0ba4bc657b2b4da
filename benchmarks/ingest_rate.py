"""Ingestion rate with the default chunks, and a digest of what was written.

The files are those of ``make bench-retrieval``'s ingestion measurement
(:func:`benchmarks.retrieval.scale.write_ingest_files`: 600 generated Markdown articles of 20
paragraphs, 2,469 chunks of 800 tokens), written once to ``--files``. Each repeat runs
``tools.ingest.pipeline.ingest`` into a fresh data directory, then again unchanged, in a process
that has loaded WordLlama and imported LanceDB (as the retrieval benchmark's worker does).
Printed per repeat: wall and CPU seconds of the first run, chunks/s, the re-ingest's share of the
first run, the load average, and a SHA-256 over the written ids, texts, chunk ids, titles,
sources, sorted terms and vectors: two code versions that print the same digest wrote the same
index. ``--profile FILE`` writes a cProfile of the first run.

Run from the repository root (``make bench-ingest``)::

    .venv/bin/python -m benchmarks.ingest_rate [--repeats 3] [--files DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def digest(data_dir: str) -> str:
    """SHA-256 of the chunks table's content, rows in id order (terms sorted: they are a set)."""
    import lancedb

    table = lancedb.connect(f"{data_dir}/lancedb").open_table("chunks").to_arrow()
    order = np.argsort(table["id"].to_pylist(), kind="stable")
    h = hashlib.sha256()
    for column in ("id", "text", "chunk_id", "title", "source", "terms"):
        values = table[column].to_pylist()
        if column == "terms":
            values = [" ".join(sorted(v.split())) for v in values]
        h.update(json.dumps([values[i] for i in order], ensure_ascii=False).encode())
    vectors = np.asarray(table["vector"].to_pylist(), dtype=np.float32)[order]
    h.update(vectors.tobytes())
    return h.hexdigest()


def run_once(files: Path, embeddings, profile: str | None = None) -> dict:
    """One first ingest and one unchanged re-ingest into a fresh data directory."""
    from tools.ingest.pipeline import ingest

    with tempfile.TemporaryDirectory(prefix="arag-bench-ingest-") as data_dir:
        load_start = os.getloadavg()[0]
        cpu0, t0 = time.process_time(), time.perf_counter()
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            first = profiler.runcall(ingest, [str(files)], data_dir, embeddings)
            profiler.dump_stats(profile)
        else:
            first = ingest([str(files)], data_dir, embeddings)
        first_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
        t0 = time.perf_counter()
        again = ingest([str(files)], data_dir, embeddings)
        again_s = time.perf_counter() - t0
        return {
            "chunks": first.num_added,
            "first_s": round(first_s, 2),
            "cpu_s": round(cpu_s, 2),
            "chunks_per_s": round(first.num_added / first_s),
            "reingest_ratio": round(again_s / first_s, 4),
            "reingest_changed": again.changed,
            "load_avg_1m": round(max(load_start, os.getloadavg()[0]), 2),
            "digest": digest(data_dir)[:16],
        }


def main() -> None:
    """Write the files if missing, then ingest them ``--repeats`` times."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=Path, default=Path(".arag-bench/ingest-files"))
    ap.add_argument("--count", type=int, default=600, help="files to generate")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", help="write a cProfile of the first repeat's first run here")
    args = ap.parse_args()
    if not args.files.exists():
        from arag.evaluation.datasets import SHARED_DATA
        from benchmarks.retrieval import scale

        scale.write_ingest_files(args.files, scale.load_real(SHARED_DATA), args.count)
    from tools.embeddings import load_embeddings
    from tools.text.language import load_language_model

    embeddings = load_embeddings("wordllama")
    embeddings.embed_query("warm up query")
    load_language_model()  # the language identifier too (a server loads both at start)
    # What the first ingest call would import (seconds, once per process), outside the timing.
    import lancedb  # noqa: F401
    from langchain_classic.indexes import SQLRecordManager, index  # noqa: F401

    for i in range(args.repeats):
        print(json.dumps(run_once(args.files, embeddings, args.profile if i == 0 else None)))


if __name__ == "__main__":
    main()
