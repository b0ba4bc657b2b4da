"""The graph's backends: chat model, embeddings, index and web search.

``build_graph`` accepts instances (for chat assistants that embed the graph, and for tests);
anything not injected is created lazily from the run's ``Context`` and cached, so
``langgraph dev`` imports the graph without loading models or opening files at import time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from graph.config import Context
from tools.index.base import HybridIndex, IndexError_
from tools.web_search import WebSearch, load_web_search
from tools.workspace_settings import SETTINGS_FILE, WorkspaceSettingsError, read_thresholds
from tools.workspaces import WorkspaceNameError

_UNSET: Any = object()


@dataclass
class Services:
    """Backends for one compiled graph. ``None`` for ``chat_model`` forces offline mode."""

    chat_model: BaseChatModel | None = _UNSET
    embeddings: Embeddings | None = None
    index: HybridIndex | None = None
    web_search: WebSearch | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _indexes: dict[tuple, HybridIndex] = field(default_factory=dict, repr=False)
    _webs: dict[tuple, WebSearch] = field(default_factory=dict, repr=False)
    _thresholds: dict[str, tuple[tuple, dict[str, float]]] = field(default_factory=dict, repr=False)

    def llm(self, ctx: Context) -> BaseChatModel | None:
        """The chat model for this run, or None in offline mode.

        Built from ``ctx.model`` with the SDK's ``max_retries``; with ``ctx.fallback_model`` it
        is a LangChain ``with_fallbacks`` chain that tries the fallback on provider errors.
        """
        if self.chat_model is not _UNSET:
            return self.chat_model
        from tools.llm.chat_models import load_chat_model, resolve_model_spec, with_fallback

        spec = resolve_model_spec(ctx.model or None)
        if spec is None:
            return None
        settings = {
            "timeout": ctx.request_timeout,
            "max_retries": max(0, ctx.max_retries),
            "max_tokens": ctx.max_output_tokens,
        }
        primary = load_chat_model(spec, base_url=ctx.base_url or None, **settings)
        fallback = None
        if ctx.fallback_model.strip().lower() not in {"", "none"}:
            fallback = load_chat_model(
                ctx.fallback_model, base_url=ctx.fallback_base_url or None, **settings
            )
        return with_fallback(primary, fallback)

    def embedder(self, ctx: Context) -> Embeddings:
        """The embeddings for this run (must match the index's)."""
        if self.embeddings is not None:
            return self.embeddings
        from tools.embeddings import load_embeddings

        return load_embeddings(ctx.embeddings)

    def open_index(self, ctx: Context) -> HybridIndex:
        """The index for this run; raises an ``IndexError_`` whose message says how to fix it."""
        if self.index is not None:
            return self.index
        weaviate = None
        if ctx.index_backend == "weaviate":
            from tools.index.weaviate import WeaviateSettings

            weaviate = WeaviateSettings.from_context(ctx)
        index_dir = ctx.index_dir()  # one index per workspace (WorkspaceNameError if invalid)
        key = (ctx.index_backend, str(index_dir), ctx.embeddings, weaviate, ctx.reranker)
        with self._lock:
            if key not in self._indexes:
                from tools.index import open_index
                from tools.index.rerank import load_reranker

                index = open_index(
                    index_dir, self.embedder(ctx), backend=ctx.index_backend, weaviate=weaviate
                )
                index.reranker = load_reranker(ctx.reranker)  # ValueError names a bad spec
                self._indexes[key] = index
            return self._indexes[key]

    def try_index(self, ctx: Context) -> tuple[HybridIndex | None, str | None]:
        """The index, or ``(None, message)`` when it is missing or unreadable, or when the
        workspace's settings file is malformed.
        """  # noqa: D205
        try:
            index = self.open_index(ctx)
            self.workspace_thresholds(ctx)
            return index, None
        except (IndexError_, WorkspaceNameError, WorkspaceSettingsError) as exc:
            return None, str(exc)
        except OSError as exc:
            return None, f"Cannot open the index in {ctx.data_dir!r}: {exc.strerror or exc}"

    def require_index(self, ctx: Context) -> HybridIndex:
        """:meth:`try_index`, raising ``IndexError_`` with its message when there is no index."""
        index, error = self.try_index(ctx)
        if index is None:
            raise IndexError_(error or "index unavailable")
        return index

    def index_problem(self, ctx: Context) -> str | None:
        """Why the index cannot serve searches (None when it can): opens it, then searches once.

        The search catches what opening cannot: a truncated or deleted data file.
        """
        index, error = self.try_index(ctx)
        if index is None:
            return error
        from tools.index.search import search

        try:
            search(index, "readiness check", 1)
        except IndexError_ as exc:
            return str(exc)
        return None

    def index_size(self, ctx: Context) -> int | None:
        """Chunks in the index now (another process's writes included); None if it won't open."""
        index, _ = self.try_index(ctx)
        if index is None:
            return None
        try:
            return index.count()
        except Exception:  # noqa: BLE001 - a damaged index: index_problem reports why
            return None

    def workspace_thresholds(self, ctx: Context) -> dict[str, float]:
        """Read the score thresholds the run's workspace sets (:mod:`tools.workspace_settings`).

        One ``stat``, and a read when the file changed; ``try_index`` calls it, so every
        question's corpus probe (in a worker thread) brings them up to date, and
        ``arag workspace`` takes effect on a running server's next question. A malformed file
        raises ``WorkspaceSettingsError`` naming it; an invalid workspace name sets none.
        """
        try:
            path = ctx.index_dir() / SETTINGS_FILE
        except WorkspaceNameError:
            return {}
        key = str(path)
        try:
            st = path.stat()
        except FileNotFoundError:
            with self._lock:
                self._thresholds.pop(key, None)
            return {}
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            cached = self._thresholds.get(key)
        if cached is None or cached[0] != stamp:
            try:
                cached = (stamp, read_thresholds(path.parent))
            except WorkspaceSettingsError:
                with self._lock:
                    self._thresholds.pop(key, None)  # the service-wide values meanwhile
                raise
            with self._lock:
                self._thresholds[key] = cached
        return cached[1]

    def workspace_context(self, ctx: Context) -> Context:
        """``ctx`` with its workspace's thresholds where no run-time value was given.

        From memory, no file access (nodes call it on the event loop): the thresholds as the
        last ``workspace_thresholds`` read them, which this run's corpus probe did. None
        read yet, or a malformed file: ``ctx`` as it is (``try_index`` reports the file).
        """
        try:
            key = str(ctx.index_dir() / SETTINGS_FILE)
        except WorkspaceNameError:
            return ctx
        with self._lock:
            cached = self._thresholds.get(key)
        return ctx.with_workspace_thresholds(cached[1]) if cached else ctx

    def web(self, ctx: Context) -> WebSearch:
        """The web search backend (a no-op unless configured), cached per settings.

        Caching keeps one Tavily client, and so one pooled HTTP session, per configuration.
        """
        if self.web_search is not None:
            return self.web_search
        key = (
            ctx.web_search,
            ctx.web_search_depth,
            ctx.web_include_domains,
            ctx.web_exclude_domains,
            ctx.web_timeout,
        )
        with self._lock:
            if key not in self._webs:
                self._webs[key] = load_web_search(
                    ctx.web_search,
                    search_depth=ctx.web_search_depth,
                    include_domains=ctx.web_include_domains,
                    exclude_domains=ctx.web_exclude_domains,
                    timeout=ctx.web_timeout,
                )
            return self._webs[key]
