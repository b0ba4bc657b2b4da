"""Run the graph over a dataset with ``langsmith.evaluate`` and aggregate the scores.

By default the experiment runs with ``upload_results=False``, a client that never touches the
network, and tracing off for the graph and the judge: nothing leaves the machine. Only an
explicit ``upload=True`` (``arag eval --upload``) with ``LANGSMITH_API_KEY`` set uploads the
examples to a LangSmith dataset (created once per dataset name) and the results to an
experiment in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

from arag.evaluation.datasets import Dataset, Item, Passage
from arag.evaluation.evaluators import (
    answer_metrics,
    behaviour_metrics,
    make_llm_judge,
    retrieval_metrics,
)

ProgressFn = Callable[[int], None]


class LLMUsage(BaseCallbackHandler):
    """Counts chat-model calls and tokens of one run (prompt + completion, as reported)."""

    def __init__(self) -> None:
        self.calls = 0
        self.tokens = 0

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        """One finished model call: add its token usage."""
        self.calls += 1
        for generations in response.generations:
            for gen in generations:
                usage = getattr(getattr(gen, "message", None), "usage_metadata", None) or {}
                self.tokens += int(usage.get("total_tokens") or 0)
        if not self.tokens and response.llm_output:
            usage = response.llm_output.get("token_usage") or {}
            self.tokens += int(usage.get("total_tokens") or 0)


def ingest_passages(passages: list[Passage], data_dir: str, embeddings: Any) -> int:
    """Index the dataset's passages (each passage id is its chunks' ``source``); returns chunks.

    Goes through LangChain's indexing API with the same record manager as ``arag ingest``, so
    re-running on the same data directory writes nothing new.
    """
    from langchain_classic.indexes import SQLRecordManager, index
    from langchain_core.documents import Document

    from tools.index.lance import LanceIndex
    from tools.ingest.chunking import chunk_documents
    from tools.ingest.pipeline import RECORD_DB, RECORD_NAMESPACE
    from tools.text.language import detect_language

    store = LanceIndex.open(data_dir, embeddings, create=True)
    manager = SQLRecordManager(
        namespace=RECORD_NAMESPACE, db_url=f"sqlite:///{Path(data_dir) / RECORD_DB}"
    )
    manager.create_schema()
    docs = [
        Document(page_content=p.text, metadata={"source": p.id, "title": p.title}) for p in passages
    ]
    chunks = chunk_documents(docs, token_count=getattr(embeddings, "token_count", None))
    was_empty = store.count() == 0
    result = index(
        chunks, manager, store, cleanup=None, source_id_key="source", key_encoder="sha256"
    )
    if was_empty and chunks:
        store.set_language(detect_language(" ".join(c.page_content[:300] for c in chunks[:40])))
    if result["num_added"] or not store.has_fts:
        store.refresh_fts()
    return store.count()


@dataclass
class Variant:
    """One pass over the questions: which text is asked (the question or its reference)."""

    name: str
    description: str
    use_reference_question: bool = False


@dataclass
class VariantResult:
    """Per-question rows and the mean of every metric for one variant."""

    variant: Variant
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, float]:
        """Mean of each metric over the questions that have it."""
        keys: dict[str, list[float]] = {}
        for row in self.rows:
            for key, value in row["scores"].items():
                if value is not None:
                    keys.setdefault(key, []).append(float(value))
        out = {key: statistics.fmean(values) for key, values in keys.items()}
        latencies = [
            row["scores"]["latency_s"] for row in self.rows if "latency_s" in row["scores"]
        ]
        if latencies:
            out["latency_p50_s"] = statistics.median(latencies)
        out["questions"] = len(self.rows)
        return out


def variants_for(dataset: Dataset) -> list[Variant]:
    """Belebele runs twice: Korean as given (through translate), and the English reference."""
    if any(item.reference_question for item in dataset.items):
        return [
            Variant("as_given", "question as given (Korean), through the translate step"),
            Variant(
                "reference",
                "reference English question (stands for a perfect translation)",
                use_reference_question=True,
            ),
        ]
    return [Variant("as_given", "question as given")]


def make_target(
    graph: Any, ctx: Any, on_done: ProgressFn | None = None, *, trace: bool = False
) -> Callable[[dict], dict]:
    """The function ``langsmith.evaluate`` calls per example: one graph turn, measured.

    ``langsmith.evaluate`` calls it synchronously; the turn runs in an event loop of its own
    (``asyncio.run``), since the graph's nodes are async. ``trace=False`` (offline) switches
    LangChain tracing off inside the turn: under ``upload_results=False`` langsmith still posts
    the graph's child runs through its client, which offline means retrying an unreachable API
    for minutes.
    """
    from langchain_core.messages import HumanMessage
    from langsmith.run_helpers import tracing_context

    from arag.turn import run_turn

    def target(inputs: dict) -> dict:
        usage = LLMUsage()
        config = {
            "callbacks": [usage],
            "configurable": {"thread_id": f"eval-{uuid.uuid4().hex[:12]}"},
            "tags": ["arag:eval"],
            "recursion_limit": 50,
        }
        started = time.perf_counter()
        with tracing_context(enabled=None if trace else False):
            turn = asyncio.run(
                run_turn(
                    graph, {"messages": [HumanMessage(inputs["question"])]}, config, context=ctx
                )
            )
        if on_done:
            on_done(1)
        sources = list(dict.fromkeys(d["source"] for d in turn.searched or []))
        # Grounded means checked, supported and cited: an uncited answer never counts.
        grounded = None if turn.grounded is None else bool(turn.grounded and turn.citations)
        return {
            "answer": turn.answer,
            "route": turn.route if turn.responded else None,
            "flags": turn.flags,
            "citations": len(turn.citations),
            "cited": [
                {"id": c.get("id", ""), "source": c.get("source", ""), "title": c.get("title", "")}
                for c in turn.citations
            ],
            "retrieved": turn.retrieved,
            "retrieved_sources": sources,
            "k": ctx.k,
            "grounded": grounded,
            "llm_calls": usage.calls,
            "tokens": usage.tokens,
            "latency_s": round(time.perf_counter() - started, 4),
        }

    return target


def _examples(items: list[Item], variant: Variant, dataset_id: uuid.UUID) -> list[Any]:
    from langsmith.schemas import Example

    return [
        Example(
            id=uuid.uuid5(dataset_id, f"{variant.name}:{item.id}"),
            dataset_id=dataset_id,
            inputs={
                "question": item.reference_question
                if variant.use_reference_question and item.reference_question
                else item.question
            },
            outputs={"answers": item.answers, "gold": item.gold},
            metadata={"item_id": item.id, "variant": variant.name},
        )
        for item in items
    ]


def _upload_dataset(client: Any, name: str, examples: list[Any]) -> str:
    """Create (or reuse) the LangSmith dataset ``name`` holding ``examples``; its name."""
    if not client.has_dataset(dataset_name=name):
        dataset = client.create_dataset(name, description="arag eval (uploaded by arag eval)")
        client.create_examples(
            dataset_id=dataset.id,
            examples=[
                {"inputs": e.inputs, "outputs": e.outputs, "metadata": e.metadata} for e in examples
            ],
        )
    return name


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """``langsmith.evaluate`` prints its experiment name; keep stdout for the report."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def run_variant(
    graph: Any,
    ctx: Any,
    dataset: Dataset,
    variant: Variant,
    *,
    judge: Any = None,
    upload: bool = False,
    on_done: ProgressFn | None = None,
    experiment_prefix: str = "arag",
) -> VariantResult:
    """Evaluate one variant with ``langsmith.evaluate``; rows carry outputs and scores."""
    import warnings

    from langsmith import Client, evaluate

    dataset_id = uuid.uuid5(uuid.NAMESPACE_URL, f"arag-eval:{dataset.name}:{variant.name}")
    examples = _examples(dataset.items, variant, dataset_id)
    evaluators: list[Any] = [answer_metrics, retrieval_metrics, behaviour_metrics]
    if judge is not None:
        evaluators.append(make_llm_judge(judge, trace=upload))
    if upload:
        client = Client()
        data: Any = _upload_dataset(client, f"arag-{dataset.name}-{variant.name}", examples)
    else:
        # No network at all: no /info probe, no background tracing thread.
        client = Client(api_key=None, info={"version": "offline"}, auto_batch_tracing=False)
        data = examples
    with warnings.catch_warnings(), _quiet_stdout():
        warnings.simplefilter("ignore")  # "upload_results is in beta"
        results = evaluate(
            make_target(graph, ctx, on_done, trace=upload),
            data=data,
            evaluators=evaluators,
            client=client,
            upload_results=upload,
            experiment_prefix=f"{experiment_prefix}-{dataset.name}-{variant.name}",
            metadata={"variant": variant.description, "k": ctx.k},
            max_concurrency=0,
        )
        rows = list(results)
    out = VariantResult(variant)
    for row in rows:
        scores = {r.key: r.score for r in row["evaluation_results"]["results"]}
        run_outputs = dict(row["run"].outputs or {})
        if row["run"].error:
            run_outputs["error"] = str(row["run"].error).splitlines()[-1][:200]
        out.rows.append(
            {
                "id": (row["example"].metadata or {}).get("item_id"),
                "question": row["example"].inputs["question"],
                "answers": row["example"].outputs.get("answers"),
                "gold": row["example"].outputs.get("gold"),
                "outputs": run_outputs,
                "scores": scores,
            }
        )
    return out


@dataclass
class EvalRun:
    """Everything a report needs."""

    dataset: Dataset
    settings: dict[str, Any]
    results: list[VariantResult]
    corpus_chunks: int
    seconds: float
    uploaded: bool


@contextlib.contextmanager
def corpus_dir(data_dir: str | None) -> Iterator[str]:
    """The given data directory, or a temporary one removed afterwards."""
    if data_dir:
        yield data_dir
        return
    with tempfile.TemporaryDirectory(prefix="arag-eval-") as tmp:
        yield tmp


def build_eval_graph(ctx: Any, embeddings: Any) -> Any:
    """The graph under evaluation: the real one, backends resolved from ``ctx``."""
    from graph.builder import build_graph

    return build_graph(embeddings=embeddings)


def judge_model(ctx: Any) -> Any:
    """The configured chat model for the LLM-as-judge evaluator, or None offline."""
    from tools.llm.chat_models import load_chat_model, resolve_model_spec

    spec = resolve_model_spec(ctx.model or None)
    if spec is None:
        return None
    return load_chat_model(
        spec,
        base_url=ctx.base_url or None,
        timeout=ctx.request_timeout,
        max_retries=max(0, ctx.max_retries),
        max_tokens=ctx.max_output_tokens,
    )


def run_eval(
    dataset: Dataset,
    ctx: Any,
    *,
    on_start: Callable[[str, int], ProgressFn] | None = None,
    upload: bool = False,
) -> EvalRun:
    """Ingest the dataset's passages into ``ctx.data_dir`` and evaluate every variant.

    ``on_start(label, total)`` is called before each variant and returns the per-question
    progress callback (the CLI's progress bar).
    """
    from tools.embeddings import load_embeddings

    started = time.perf_counter()
    if upload and not os.environ.get("LANGSMITH_API_KEY"):
        raise ValueError("uploading to LangSmith needs LANGSMITH_API_KEY in the environment")
    embeddings = load_embeddings(ctx.embeddings)
    chunks = ingest_passages(dataset.passages, ctx.data_dir, embeddings) if dataset.passages else 0
    graph = build_eval_graph(ctx, embeddings)
    judge = judge_model(ctx)
    results = []
    for variant in variants_for(dataset):
        progress = on_start(variant.name, len(dataset.items)) if on_start else None
        results.append(
            run_variant(graph, ctx, dataset, variant, judge=judge, upload=upload, on_done=progress)
        )
    settings = {
        k: getattr(ctx, k)
        for k in (
            "model",
            "embeddings",
            "k",
            "max_rewrites",
            "max_generations",
            "confidence_high",
            "confidence_low",
            "probe_strong",
            "probe_weak",
            "relevance_threshold",
            "web_search",
        )
    }
    settings["mode"] = "llm" if judge is not None else "offline"
    return EvalRun(dataset, settings, results, chunks, time.perf_counter() - started, upload)
