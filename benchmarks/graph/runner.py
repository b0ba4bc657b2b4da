"""Run a scenario through our graph or the baseline and measure calls, tokens and time.

Every run gets a fresh counting model and script (their counters are per run), and a
:class:`TimedIndex` around the shared real index, so the time spent in retrieval can be subtracted
when the graph's own overhead is measured.

Our graph's nodes are coroutines, so it runs with ``await graph.ainvoke(...)`` on an event loop
of its own per run (the clock starts inside the loop, so creating it is not counted); the
tutorial baseline's nodes are plain functions and it runs with ``graph.invoke``.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.messages import HumanMessage
from langgraph.errors import GraphRecursionError

from benchmarks.graph.baseline import RECURSION_LIMIT, build_baseline
from benchmarks.graph.counting_model import CountingChatModel, Latency
from benchmarks.graph.scenarios import Scenario, Script
from graph.builder import build_graph
from graph.config import Context
from tools.index.base import HybridIndex, IndexMeta
from tools.web_search import WebResult

if TYPE_CHECKING:
    from tools.index.rerank import Reranker

OURS, BASELINE = "ours", "baseline"
# The scripted model states calibrated confidences (scenario (a) is a confident closed-book
# answer); the default trusts no stated confidence, which would turn (a) into a retrieval.
CONTEXT = Context(verbalized_confidence_high=0.9)


class TimedIndex:
    """A ``HybridIndex`` around another that adds up the time spent searching (thread-safe).

    Every other member of the protocol is the wrapped index's own.
    """

    def __init__(self, index: HybridIndex):
        self._index = index
        self._lock = threading.Lock()
        self.seconds = 0.0
        self.searches = 0

    @property
    def meta(self) -> IndexMeta:
        """The wrapped index's metadata (its corpus language may change with ``set_language``)."""
        return self._index.meta

    @property
    def data_dir(self) -> Path | None:
        """The wrapped index's data directory."""
        return self._index.data_dir

    @property
    def reranker(self) -> Reranker | None:
        """The wrapped index's reranker; setting it sets the wrapped index's."""
        return self._index.reranker

    @reranker.setter
    def reranker(self, value: Reranker | None) -> None:
        self._index.reranker = value

    @property
    def record_namespace(self) -> str:
        """The wrapped index's record manager namespace."""
        return self._index.record_namespace

    def hybrid_search(self, query: str, k: int = 5) -> list[Document]:
        """Search the wrapped index, timing the call."""
        start = time.perf_counter()
        try:
            return self._index.hybrid_search(query, k=k)
        finally:
            with self._lock:
                self.seconds += time.perf_counter() - start
                self.searches += 1

    def count(self) -> int:
        """Chunks in the wrapped index."""
        return self._index.count()

    def set_language(self, code: str) -> None:
        """Record the corpus language in the wrapped index."""
        self._index.set_language(code)

    def refresh_fts(self) -> None:
        """Bring the wrapped index's full-text and vector indexes up to date."""
        self._index.refresh_fts()

    def close(self) -> None:
        """Close the wrapped index."""
        self._index.close()


@dataclass
class FakeWebSearch:
    """Web search returning the scenario's results after ``latency_s`` (same for both graphs).

    Our graph calls ``asearch`` (it sleeps without blocking the event loop), the tutorial
    baseline ``search``.
    """

    results: tuple[WebResult, ...]
    latency_s: float = 0.0
    name: str = "simulated"
    available: bool = True
    unavailable_reason: str | None = None

    def search(self, query: str, max_results: int = 5) -> list[WebResult]:
        """The scripted results."""
        time.sleep(self.latency_s)
        return list(self.results[:max_results])

    async def asearch(self, query: str, max_results: int = 5) -> list[WebResult]:
        """The scripted results, awaited."""
        await asyncio.sleep(self.latency_s)
        return list(self.results[:max_results])


@dataclass
class Run:
    """One measured run."""

    seconds: float
    retrieval_seconds: float
    calls: int
    prompt_tokens: int
    completion_tokens: int
    nodes: list[str]
    route: str
    finished: bool


@dataclass
class Setup:
    """What every run shares."""

    index: HybridIndex
    embeddings: Embeddings
    latency: Latency = field(default_factory=Latency)
    web_latency_s: float = 0.0
    recursion_limit: int = RECURSION_LIMIT


def run_once(
    kind: str, scenario: Scenario, setup: Setup, *, latency: Latency | None = None, **config: Any
) -> Run:
    """Run ``scenario`` once through ``kind`` (``ours`` or ``baseline``) and measure it."""
    model = CountingChatModel(responder=Script(scenario), latency=latency or setup.latency)
    index = TimedIndex(setup.index)
    web = FakeWebSearch(scenario.web_results, setup.web_latency_s)
    finished = True
    if kind == OURS:
        graph = build_graph(
            chat_model=model, embeddings=setup.embeddings, index=index, web_search_backend=web
        )
        result, seconds = asyncio.run(
            _timed(
                graph.ainvoke(
                    {"messages": [HumanMessage(scenario.question)]}, config, context=CONTEXT
                )
            )
        )
        route = result["route"]
    else:
        graph = build_baseline(model, index, web)
        start = time.perf_counter()
        try:
            result = graph.invoke(
                {"question": scenario.question},
                {"recursion_limit": setup.recursion_limit, **config},
            )
            route = result.get("route", "")
        except GraphRecursionError:
            finished, route = False, "recursion_limit"
        seconds = time.perf_counter() - start
    return Run(
        seconds=seconds,
        retrieval_seconds=index.seconds,
        calls=len(model.calls),
        prompt_tokens=model.prompt_tokens,
        completion_tokens=model.completion_tokens,
        nodes=[c.node for c in model.calls],
        route=route,
        finished=finished,
    )


async def _timed(run: Awaitable[dict[str, Any]]) -> tuple[dict[str, Any], float]:
    """Await ``run``; its result and the seconds it took."""
    start = time.perf_counter()
    result = await run
    return result, time.perf_counter() - start


def run_many(jobs: list[Callable[[], Run]], parallel: int) -> list[Run]:
    """Run ``jobs`` with up to ``parallel`` at a time (the fakes sleep, so runs overlap well)."""
    if parallel <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(lambda job: job(), jobs))


def p50(values: list[float]) -> float:
    """Median."""
    return statistics.median(values) if values else float("nan")


def summarize(runs: list[Run]) -> dict[str, Any]:
    """Counts from the first run (they are deterministic; a mismatch is reported) and p50s."""
    first = runs[0]
    deterministic = all(
        (r.calls, r.prompt_tokens, r.completion_tokens)
        == (first.calls, first.prompt_tokens, first.completion_tokens)
        for r in runs
    )
    return {
        "runs": len(runs),
        "calls": first.calls,
        "prompt_tokens": first.prompt_tokens,
        "completion_tokens": first.completion_tokens,
        "tokens": first.prompt_tokens + first.completion_tokens,
        "p50_ms": round(p50([r.seconds for r in runs]) * 1000, 2),
        "retrieval_p50_ms": round(p50([r.retrieval_seconds for r in runs]) * 1000, 2),
        "route": first.route,
        "finished": all(r.finished for r in runs),
        "deterministic": deterministic,
        "nodes": first.nodes,
    }


def run_dict(run: Run) -> dict[str, Any]:
    """A run as JSON-friendly data."""
    return asdict(run)
