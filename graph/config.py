"""Run-time settings, rendered by LangGraph Studio as the assistant's context form.

Precedence is one documented order: a value passed at run time (``context=...`` or the Studio
form) wins; otherwise the environment variable named in the field's description; otherwise the
default shown here. The score thresholds have one more level: a workspace may set its own
(:mod:`tools.workspace_settings`), which replace the environment's and the default, not a
run-time value. Secrets (API keys) never live here: they come only from the environment and
are read by the provider clients themselves.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tools.index.filters import DocFilter
from tools.index.scoring import spaceless_share
from tools.workspaces import DEFAULT_WORKSPACE, workspace_dir, workspace_tenant


def _env(name: str, default: Any) -> Any:
    """A default that the environment may override, typed like ``default``."""

    def factory() -> Any:
        raw = os.environ.get(name)
        if raw is None or raw == "":
            return default
        return (
            type(default)(raw)
            if not isinstance(default, bool)
            else raw.lower() in {"1", "true", "yes", "on"}
        )

    return factory


def _setting(env: str, default: Any, description: str) -> Any:
    return field(
        default_factory=_env(env, default),
        metadata={"description": f"{description} (env {env}; default {default!r})"},
    )


def is_cjk(text: str) -> bool:
    """Whether ``text`` is mostly in a script matched on character pairs (CJK, Hangul, Thai)."""
    return spaceless_share(text) >= 0.3


def _web_search_default() -> str:
    """``ARAG_WEB_SEARCH`` if set; else Tavily when its key is in the environment."""
    explicit = os.environ.get("ARAG_WEB_SEARCH")
    if explicit:
        return explicit
    return "tavily" if os.environ.get("TAVILY_API_KEY") else "none"


@dataclass(kw_only=True)
class Context:
    """Settings for one run of the adaptive RAG graph."""

    model: str = _setting(
        "ARAG_MODEL",
        "",
        "Chat model as provider:model, e.g. openai:gpt-4o-mini or groq:llama-3.3-70b-versatile. "
        "Empty: openai if OPENAI_API_KEY is set, else groq if GROQ_API_KEY is set, else offline "
        "(no LLM, extractive answers). 'offline' forces offline mode",
    )
    base_url: str = _setting(
        "ARAG_BASE_URL", "", "Base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp)"
    )
    embeddings: str = _setting(
        "ARAG_EMBEDDINGS",
        "wordllama",
        "Embedding model: 'wordllama' (offline, bundled) or provider:model such as "
        "openai:text-embedding-3-small. Must match the model the index was built with",
    )
    data_dir: str = _setting(
        "ARAG_DATA_DIR", ".arag", "Directory holding the index, record manager and threads"
    )
    workspace: str = _setting(
        "ARAG_WORKSPACE",
        DEFAULT_WORKSPACE,
        "Workspace to search: a named collection with its own index (LanceDB data_dir/"
        "workspaces/<name>, or Weaviate tenant <name>), records and corpus language; "
        "'default' is data_dir itself and the tenant setting",
    )
    index_backend: str = _setting(
        "ARAG_INDEX",
        "lancedb",
        "Index backend: 'lancedb' (embedded, in data_dir) or 'weaviate' (server at WEAVIATE_URL; "
        "API key from env WEAVIATE_API_KEY only)",
    )
    weaviate_url: str = _setting(
        "WEAVIATE_URL",
        "",
        "Weaviate REST URL, e.g. http://localhost:8080 or a Weaviate Cloud cluster URL "
        "(gRPC: env WEAVIATE_GRPC_URL, default same host, port 50051)",
    )
    weaviate_collection: str = _setting(
        "ARAG_WEAVIATE_COLLECTION", "AragChunks", "Weaviate collection holding the chunks"
    )
    tenant: str = _setting(
        "ARAG_TENANT",
        "default",
        "Weaviate tenant (one per workspace or user); a tenant never sees another's chunks",
    )
    hybrid_alpha: float = _setting(
        "ARAG_HYBRID_ALPHA",
        0.5,
        "Weaviate hybrid weight of vector vs BM25 (0 = BM25 only, 1 = vector only)",
    )
    fusion_type: str = _setting(
        "ARAG_FUSION_TYPE", "relativeScore", "Weaviate hybrid fusion: relativeScore or ranked"
    )
    k: int = _setting("ARAG_K", 5, "Documents retrieved per query")
    multihop: bool = _setting(
        "ARAG_MULTIHOP",
        True,
        "One hop of entity expansion per search: the best document about a name the top hit "
        "mentions takes a slot (finds a bridge question's second document without an LLM)",
    )
    followup_search: bool = _setting(
        "ARAG_FOLLOWUP_SEARCH",
        False,
        "With a model: after the first retrieval, one model call reads the top document and "
        "may name the entity a bridge question needs next; that query is searched once and "
        "its best new document takes the second slot (IRCoT-style; one extra call per turn)",
    )
    reranker: str = _setting(
        "ARAG_RERANKER",
        "",
        "Optional reranker for the top fused results, as 'package.module:attr' (empty: none)",
    )
    grade_excerpt_chars: int = _setting(
        "ARAG_GRADE_EXCERPT_CHARS",
        500,
        "Characters of each document the grader reads: the sentences matching the question "
        "(0 = the whole document)",
    )
    context_excerpt_chars: int = _setting(
        "ARAG_CONTEXT_EXCERPT_CHARS",
        1500,
        "Characters of each document the writer and the checker read: the sentences matching "
        "the question, or the claims citing it (0 = the whole document)",
    )
    summary_max_calls: int = _setting(
        "ARAG_SUMMARY_MAX_CALLS",
        4,
        "Model calls a summary may take: one (stuff) when the chunks fit summary_stuff_chars, "
        "else map-reduce with at most this many calls, the reduce included",
    )
    summary_stuff_chars: int = _setting(
        "ARAG_SUMMARY_STUFF_CHARS",
        6000,
        "Characters of document text one summarizing call reads",
    )
    summary_chunks: int = _setting(
        "ARAG_SUMMARY_CHUNKS", 30, "Chunks searched for a summary request (then kept by source)"
    )
    summary_max_sources: int = _setting(
        "ARAG_SUMMARY_MAX_SOURCES",
        3,
        "Documents a request for several documents ('summarize these files') is summarized from",
    )
    max_rewrites: int = _setting(
        "ARAG_MAX_REWRITES", 2, "Query rewrites allowed per turn when nothing relevant is found"
    )
    max_generations: int = _setting(
        "ARAG_MAX_GENERATIONS", 2, "Answer drafts allowed per turn (first draft included)"
    )
    confidence_high: float = _setting(
        "ARAG_CONFIDENCE_HIGH",
        0.85,
        "Closed-book confidence from token logprobs at or above which the model answers "
        "without retrieval",
    )
    confidence_low: float = _setting(
        "ARAG_CONFIDENCE_LOW",
        0.5,
        "Closed-book confidence from token logprobs below which the closed-book answer is "
        "discarded; between low and high the graph retrieves and keeps it as a candidate",
    )
    verbalized_confidence_high: float = _setting(
        "ARAG_VERBALIZED_CONFIDENCE_HIGH",
        1.01,
        "The same as confidence_high for a confidence the model states itself (no logprobs, "
        "e.g. Groq). Above 1 (the default) a stated confidence never skips retrieval: measured "
        "on RetrievalQA, SmolLM2 stated 0.9 or more for 11 of 20 questions and answered none "
        "right (benchmarks/results/calibration-*). Lower it after `arag eval --sweep`",
    )
    verbalized_confidence_low: float = _setting(
        "ARAG_VERBALIZED_CONFIDENCE_LOW",
        0.7,
        "The same as confidence_low for a confidence the model states itself",
    )
    confidence_method: str = _setting(
        "ARAG_CONFIDENCE_METHOD",
        "auto",
        "How the closed-book confidence is measured: 'auto' (token logprobs where the provider "
        "returns them, else the model's own statement) or 'verbalized' (always the statement)",
    )
    probe_strong: float = _setting(
        "ARAG_PROBE_STRONG",
        0.6,
        "Corpus-probe score at or above which the graph retrieves whatever the model thinks",
    )
    probe_weak: float = _setting(
        "ARAG_PROBE_WEAK",
        0.35,
        "Corpus-probe score below which the corpus is taken not to cover the question",
    )
    relevance_threshold: float = _setting(
        "ARAG_RELEVANCE_THRESHOLD",
        0.45,
        "Calibrated score a document needs to count as relevant when no LLM grades it",
    )
    probe_weak_cjk: float = _setting(
        "ARAG_PROBE_WEAK_CJK",
        0.35,
        "probe_weak for a question written in Korean, Chinese, Japanese or Thai: WordLlama "
        "scores those on term coverage alone (character pairs), which runs lower. Fitted with "
        "answer_coverage_cjk on half of Belebele-ko (Korean questions over Korean passages), "
        "see benchmarks/results/abstention.md",
    )
    relevance_threshold_cjk: float = _setting(
        "ARAG_RELEVANCE_THRESHOLD_CJK",
        0.35,
        "relevance_threshold for a question written in Korean, Chinese, Japanese or Thai "
        "(fitted with probe_weak_cjk)",
    )
    answer_coverage: float = _setting(
        "ARAG_ANSWER_COVERAGE",
        0.3,
        "Offline: weighted share of the question's content terms that the quoted sentence (with "
        "the sentence before it and the title) must hold; below it the answer is declined as "
        "not in the documents (a near miss). The coverage of the joint fit on half of XQuAD-en "
        "and Belebele-en near-miss splits (benchmarks/results/abstention.md); the fit with the "
        "floor held picks 0.4, which declines more answerable questions for no more near "
        "misses on the realistic set; 0 turns the check off",
    )
    answer_coverage_cjk: float = _setting(
        "ARAG_ANSWER_COVERAGE_CJK",
        0.3,
        "The same for a question written in Korean, Chinese, Japanese or Thai, whose terms are "
        "character pairs (fitted with probe_weak_cjk on half of Belebele-ko, Korean questions "
        "over Korean passages)",
    )
    web_search: str = field(
        default_factory=_web_search_default,
        metadata={
            "description": "Web search fallback: 'none' (disabled) or 'tavily' (env "
            "ARAG_WEB_SEARCH; default 'tavily' when TAVILY_API_KEY is set, else 'none')"
        },
    )
    web_max_results: int = _setting("ARAG_WEB_MAX_RESULTS", 5, "Web results used per search")
    web_search_depth: str = _setting(
        "ARAG_WEB_SEARCH_DEPTH",
        "basic",
        "Tavily search depth: basic, advanced (slower, better snippets), fast or ultra-fast",
    )
    web_include_domains: str = _setting(
        "ARAG_WEB_INCLUDE_DOMAINS", "", "Comma-separated domains web search is limited to"
    )
    web_exclude_domains: str = _setting(
        "ARAG_WEB_EXCLUDE_DOMAINS", "", "Comma-separated domains web search never returns"
    )
    web_timeout: float = _setting("ARAG_WEB_TIMEOUT", 15.0, "Seconds one web search may take")
    request_timeout: float = _setting(
        "ARAG_REQUEST_TIMEOUT", 60.0, "Seconds one LLM request may take"
    )
    max_output_tokens: int = _setting(
        "ARAG_MAX_OUTPUT_TOKENS",
        512,
        "Tokens one LLM reply may take (answers, grades, checks; 0 = the provider's limit)",
    )
    answer_max_tokens: int = _setting(
        "ARAG_ANSWER_MAX_TOKENS",
        0,
        "Tokens the answer may take (an API client's max_tokens): passed to the answering "
        "model call; offline, the extractive answer is cut to this many words (0 = no bound "
        "beyond max_output_tokens)",
    )
    stop: list[str] = field(
        default_factory=list,
        metadata={
            "description": "Stop sequences for the answer (an API client's stop): passed to "
            "the answering model call; offline, the extractive answer ends before the first"
        },
    )
    max_retries: int = _setting(
        "ARAG_MAX_RETRIES",
        2,
        "Retries of one LLM request after a 429, 5xx, timeout or dropped connection, with "
        "backoff that honours Retry-After (the provider SDK's own retries)",
    )
    fallback_model: str = _setting(
        "ARAG_FALLBACK_MODEL",
        "",
        "Model (provider:model) tried when the main model's provider is down or rate-limited "
        "after its retries, e.g. openai:gpt-4o-mini behind groq:llama-3.3-70b-versatile. "
        "Empty: none",
    )
    fallback_base_url: str = _setting(
        "ARAG_FALLBACK_BASE_URL",
        "",
        "Base URL of an OpenAI-compatible server for the fallback model (empty: the provider's)",
    )
    request_deadline: float = _setting(
        "ARAG_REQUEST_DEADLINE",
        120.0,
        "Seconds one question may spend waiting for LLMs, retries included; after it, steps "
        "skip the LLM and answer offline with a deadline_exceeded flag (0 = no deadline)",
    )
    max_question_chars: int = _setting(
        "ARAG_MAX_QUESTION_CHARS", 4000, "Longer questions are truncated, with a notice"
    )
    filters: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "description": "Document filters: only documents matching all of them are searched. "
            "Keys: source_prefix (display path or URL starts with it), tags (any of), "
            "file_types (e.g. md, pdf, html), ingested_after / ingested_before (ISO-8601)"
        },
    )
    prompts: dict[str, str] = field(
        default_factory=dict,
        metadata={
            "description": "Prompt overrides by name (condense, translate, closed_book, grade, "
            "rewrite, followup, answer, check); see graph/prompts.py for the defaults"
        },
    )

    @classmethod
    def resolve(cls, context: Context | dict[str, Any] | None) -> Context:
        """Return a full Context from whatever the runtime passed (None, a dict or a Context)."""
        if isinstance(context, cls):
            return context
        if context is None:
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(context).items() if k in known})

    def doc_filter(self) -> DocFilter:
        """``filters`` as the typed filter the index applies; ``FilterError`` if malformed."""
        return DocFilter.parse(self.filters)

    def index_dir(self) -> Path:
        """The directory of this run's workspace (index files and ingestion records)."""
        return workspace_dir(self.data_dir, self.workspace)

    def weaviate_tenant(self) -> str:
        """The Weaviate tenant of this run's workspace."""
        return workspace_tenant(self.workspace, self.tenant)

    def confidence_thresholds(self, method: str | None) -> tuple[float, float]:
        """``(high, low)`` for a closed-book confidence measured by ``method``.

        Logprobs and a self-reported number are different scales, so each has its own pair.
        """
        if method == "verbalized":
            return self.verbalized_confidence_high, self.verbalized_confidence_low
        return self.confidence_high, self.confidence_low

    def score_thresholds(self, query: str) -> tuple[float, float]:
        """``(probe_weak, relevance_threshold)`` for ``query``: the CJK pair for a CJK query.

        A query in a script written without spaces is matched on character pairs, without
        the embedding's half of the score (``tools/index/lance.py``, ``dense_weight``): the
        same score means more there, so it has thresholds of its own.
        """
        if is_cjk(query):
            return self.probe_weak_cjk, self.relevance_threshold_cjk
        return self.probe_weak, self.relevance_threshold

    def answer_coverage_for(self, query: str) -> float:
        """The answer-coverage threshold for ``query`` (its own for a CJK query)."""
        return self.answer_coverage_cjk if is_cjk(query) else self.answer_coverage

    def with_workspace_thresholds(self, thresholds: dict[str, float]) -> Context:
        """The context with the workspace's ``thresholds`` where no run-time value was given.

        A field still holding the service-wide setting (environment, else default) takes the
        workspace's value; one that differs from it was passed at run time and stays. (So a
        run-time value equal to the service-wide one cannot undo a workspace's.)
        """
        by_name = {f.name: f for f in fields(self)}
        changes = {
            name: value
            for name, value in thresholds.items()
            if getattr(self, name) == by_name[name].default_factory()  # type: ignore[misc]
        }
        return dataclasses.replace(self, **changes) if changes else self

    def prompt(self, name: str, default: str) -> str:
        """The prompt called ``name``: the configured override, else ``default``."""
        return self.prompts.get(name) or default
