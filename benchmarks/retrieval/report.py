"""Turn the collected figures into the markdown report, the JSON file and the latency plot."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path

from benchmarks.retrieval.common import STACK_LABELS, STACKS

PACKAGES = (
    "langchain-core",
    "langchain-classic",
    "langchain-community",
    "langchain-chroma",
    "chromadb",
    "rank-bm25",
    "lancedb",
    "wordllama",
    "numpy",
)


def machine_info() -> dict:
    """CPU count and model, RAM, load, Python and library versions."""
    import psutil

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _f(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ratio(ours, seed, higher_is_better: bool = True) -> str:
    if not isinstance(ours, int | float) or not isinstance(seed, int | float):
        return "-"
    if higher_is_better:
        return f"{ours / seed:.2f}×" if seed else "-"
    if not ours or not seed:
        return "-"
    return f"{seed / ours:.1f}× faster" if ours <= seed else f"{ours / seed:.1f}× slower"


def _size(n: int) -> str:
    return (
        f"{n // 1_000_000}M"
        if n >= 1_000_000 and n % 1_000_000 == 0
        else (f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n))
    )


def _dataset_table(row: dict) -> list[str]:
    seed, ours, peer = row.get("seed", {}), row.get("ours", {}), row.get("bm25s", {})
    lines = [f"### {row['name']}", ""]
    info = ours if "paragraphs" in ours else seed
    if "paragraphs" in info:
        lines.append(
            f"{info.get('n_questions')} questions over {info['paragraphs']} paragraphs "
            f"({info['chunks']} chunks); source `{row['source']}`."
        )
    if row.get("note"):
        lines.append(f"Note: {row['note']}.")
    for name in STACKS:
        if "error" in row.get(name, {}):
            lines.append(f"**{name} stack failed:** `{row[name]['error']}`")
    lines += [
        "",
        "| metric | seed stack | ours | ours vs seed | bm25s (BM25 only) | ours vs bm25s |",
        "|---|---|---|---|---|---|",
    ]
    metrics = [("R@1", "r1"), ("R@5", "r5"), ("MRR@10", "mrr10")]
    if row.get("multi_hop"):
        metrics.append(("all-gold@5", "all_gold5"))
    for label, key in metrics:
        lines.append(
            f"| {label} | {_f(seed.get(key))} | {_f(ours.get(key))} | "
            f"{_ratio(ours.get(key), seed.get(key))} | {_f(peer.get(key))} | "
            f"{_ratio(ours.get(key), peer.get(key))} |"
        )
    if row.get("multi_hop"):
        lines.append(
            f"| all-gold@5, with multi-hop expansion | - | {_f(ours.get('all_gold5_expanded'))} "
            f"| {_ratio(ours.get('all_gold5_expanded'), seed.get('all_gold5'))} | - | - |"
        )
    for label, key, digits in (
        ("p50 query (ms)", "p50_ms", 2),
        ("p95 query (ms)", "p95_ms", 2),
        ("p50 CPU per query (ms, all threads)", "cpu_p50_ms", 2),
        ("build (s)", "build_s", 2),
    ):
        lines.append(
            f"| {label} | {_f(seed.get(key), digits)} | {_f(ours.get(key), digits)} | "
            f"{_ratio(ours.get(key), seed.get(key), higher_is_better=False)} | "
            f"{_f(peer.get(key), digits)} | "
            f"{_ratio(ours.get(key), peer.get(key), higher_is_better=False)} |"
        )
    lines.append(
        f"| peak RSS (MB) | {_f(seed.get('peak_rss_mb'), 0)} | "
        f"{_f(ours.get('peak_rss_mb'), 0)} | - | {_f(peer.get('peak_rss_mb'), 0)} | - |"
    )
    return [*lines, ""]


def _scale_cell(res: dict, key: str, digits: int) -> str:
    if not res:
        return "-"
    if "skipped" in res:
        return "not run"
    if "error" in res:
        return "failed"
    return _f(res.get(key), digits)


def _copy_cell(res: dict) -> str:
    """Seconds our in-memory copy took after the index ("none": too big, "-": other stacks)."""
    if res.get("warm_s") is None:
        return "-"
    return _f(res["warm_s"], 1) if res.get("in_memory") else "none"


def _scale_table(scale: dict) -> list[str]:
    lines = [
        "| chunks | stack | p50 (ms) | p95 (ms) | p50 CPU (ms) | R@5 | build (s) | "
        "index chunks/s | in-memory copy (s) | peak RSS (MB) | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for row in scale["rows"]:
        for name in STACKS:
            res = row.get(name, {})
            rate = (
                _f(row["size"] / res["build_s"], 0)
                if res.get("build_s") and "error" not in res
                else _scale_cell(res, "", 0)
            )
            lines.append(
                f"| {_size(row['size'])} | {name} | {_scale_cell(res, 'p50_ms', 2)} | "
                f"{_scale_cell(res, 'p95_ms', 2)} | {_scale_cell(res, 'cpu_p50_ms', 2)} | "
                f"{_scale_cell(res, 'r5', 3)} | {_scale_cell(res, 'build_s', 1)} | {rate} | "
                f"{_copy_cell(res)} | {_scale_cell(res, 'peak_rss_mb', 0)} | "
                f"{_scale_cell(res, 'load_avg_1m', 1)} |"
            )
            if "skipped" in res:
                notes.append(f"- {name} at {_size(row['size'])}: not run, {res['skipped']}.")
            if "error" in res:
                notes.append(f"- {name} at {_size(row['size'])}: failed: `{res['error']}`.")
    return [*lines, "", *notes]


def render_markdown(results: dict) -> str:
    """The whole report as markdown."""
    m = results["machine"]
    out = [
        "# Retrieval benchmark: seed stack vs ours, with bm25s as the BM25-only peer",
        "",
        f"Generated by `{results['command']}` in {results['total_s'] / 60:.1f} min.",
        "",
        "- **Seed stack**: `langchain_chroma.Chroma` (in-memory, WordLlama embeddings) + "
        "`BM25Retriever` (rank_bm25), `EnsembleRetriever` weights BM25 0.3 / dense 0.7, k=5 "
        "each; it returns the union (up to 10).",
        "- **Ours**: `LanceIndex` (`add_documents`, `refresh_fts`, `hybrid_search(k=10)`).",
        "- **Documents**: both stacks index exactly the same chunk texts: each paragraph goes "
        "through the project chunker (`tools.ingest.chunking.chunk_documents`, which starts the "
        "chunk with the title line: the XQuAD article title, the HotpotQA paragraph title; "
        "Belebele passages have no title). Metrics compare paragraph ids, so a paragraph split "
        "into several chunks counts once.",
        "- **Metrics**: R@1, R@5 and MRR@10 count a hit on any gold paragraph; all-gold@5 "
        "(HotpotQA) needs every gold paragraph in the top 5. Latency is one `search` call "
        "(query embedding included), after one warm-up query. Build = embedding + indexing. "
        "Peak RSS is the whole worker process (Python, libraries, model, data), each stack in "
        "its own process.",
        f"- **Machine**: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM, Python "
        f"{m['python']}, load average {m['load_avg_1m_at_start']} at start. "
        + (
            "**The machine was shared with other jobs while this ran, so timings are noisy.**"
            if results.get("shared_machine")
            else ""
        ),
        "- **Versions**: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        "",
    ]
    if results.get("targets"):
        out += ["## Targets", "", "| target | measured | result |", "|---|---|---|"]
        for t in results["targets"]:
            verdict = {True: "PASS", False: "FAIL", None: "NOT MEASURED"}[t["pass"]]
            out.append(f"| {t['name']} | {t['measured']} | {verdict} |")
        out.append("")
    if results.get("datasets"):
        out += ["## Datasets", ""]
        for row in results["datasets"]:
            out += _dataset_table(row)
    scale = results.get("scale")
    if scale and scale.get("rows"):
        out += [
            "## Scale",
            "",
            scale["description"],
            "",
            f"{scale['n_questions']} real questions (XQuAD-en and Belebele-en, fixed-seed sample) "
            "are asked at every size. Vectors come from the on-disk cache, so build time here is "
            "indexing only; the embedding rate is separate: WordLlama embedded "
            f"{_f(scale.get('embed_chunks_per_s'), 0)} chunks/s (one paragraph each, "
            "measured in this run on the first 10,000 texts)"
            " (full ingestion, embedding included, is measured under Ingestion).",
            "",
            *_scale_table(scale),
            "",
            *(
                [
                    f"Sizes not finished when this report was written: "
                    f"{', '.join(_size(n) for n in scale['pending'])}.",
                    "",
                ]
                if scale.get("pending")
                else []
            ),
            "![p50 query latency against corpus size](retrieval.png)",
            "",
        ]
    ing = results.get("ingest")
    if ing:
        out += ["## Ingestion (`tools.ingest.pipeline.ingest`, files on disk)", ""]
        if "error" in ing:
            out.append(f"Failed: `{ing['error']}`")
        else:
            tokens = (
                f" ({ing['tokens'] / ing['chunks']:.0f} WordLlama tokens per chunk on average, "
                f"{ing['tokens_per_s']:,.0f} tokens/s)"
                if ing.get("tokens") and ing.get("chunks")
                else ""
            )
            load = f" Load average {ing['load_avg_1m']}." if "load_avg_1m" in ing else ""
            out.append(
                f"{ing['files']} Markdown files, {ing['chunks']} chunks (default chunking): first "
                f"ingest {ing['first_s']:.1f} s = **{ing['chunks_per_s']:.0f} chunks/s**{tokens} "
                f"(loading, chunking, embedding, indexing, record manager, in a process that "
                f"has loaded the model and imported LanceDB); unchanged re-ingest "
                f"{ing['reingest_s']:.2f} s = **{ing['reingest_ratio']:.1%}** of the first run "
                f"(index changed: {ing['reingest_changed']}).{load}"
            )
            warm = ing.get("warm_process") or {}
            if "chunks_per_s" in warm:
                out.append(
                    f"\nThe same files in a process that had first ingested the bundled sample "
                    f"corpus (as a running server has; the first ingest of a process also pays "
                    f"one-time warm-up): {warm['first_s']:.1f} s = "
                    f"**{warm['chunks_per_s']:.0f} chunks/s** ({warm.get('cpu_s', 0):.1f} CPU s, "
                    f"load average {warm.get('load_avg_1m', '-')})."
                )
        out.append("")
    return "\n".join(out)


def write_plot(scale: dict, path: Path) -> bool:
    """Log-log plot of p50 query latency against corpus size, one line per stack."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    drew = False
    for name, marker in zip(STACKS, "osd", strict=True):
        label = STACK_LABELS[name]
        points = [
            (row["size"], row[name]["p50_ms"])
            for row in scale["rows"]
            if "p50_ms" in row.get(name, {})
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker=marker, label=label)
            drew = True
    if not drew:
        plt.close(fig)
        return False
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("corpus size (chunks)")
    ax.set_ylabel("p50 query latency (ms)")
    ax.set_title("Hybrid query latency vs corpus size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_outputs(results: dict, out_dir: Path) -> list[Path]:
    """Write ``retrieval.md``, ``retrieval.json`` and (with a scale series) ``retrieval.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if results.get("scale") and write_plot(results["scale"], out_dir / "retrieval.png"):
        written.append(out_dir / "retrieval.png")
    (out_dir / "retrieval.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / "retrieval.md").write_text(render_markdown(results), encoding="utf-8")
    return [out_dir / "retrieval.md", out_dir / "retrieval.json", *written]


if __name__ == "__main__":  # re-render the report from its JSON: python -m ...report FILE.json
    import sys

    source = Path(sys.argv[1])
    write_outputs(json.loads(source.read_text(encoding="utf-8")), source.parent)
