"""Embedding models: an offline WordLlama default and any LangChain provider on request.

Nothing is loaded at import time. ``WordLlamaEmbeddings`` loads its weights (shipped inside the
``wordllama`` wheel) on first use; provider models are built only when ``load_embeddings`` is
asked for one.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from tools.token_cache import WordTokenCache, splits_exactly_at_spaces

DEFAULT_SPEC = "wordllama"
# Smallest batch worth the tokenizer's parallel call (see _encode_batch).
PARALLEL_BATCH = 256


@contextmanager
def _root_logging_kept():
    """Undo what the block does to the root logger's level and handlers.

    ``wordllama`` calls ``logging.basicConfig(level=logging.INFO)`` when imported: every
    process that embedded offline then printed every library's INFO records on stderr (under
    ``arag ask`` with a model, a line per HTTP request to the provider).
    """
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


class WordLlamaEmbeddings(Embeddings):
    """Offline static word embeddings (WordLlama ``l2_supercat``, 256 dimensions).

    The model is loaded lazily and at most once per instance, under a lock, so several threads
    may embed concurrently from the start. Vectors are L2-normalised, so a dot product is the
    cosine similarity.
    """

    model_id = "wordllama:l2_supercat-256"
    dimensions = 256
    # Trained on English text only: other languages' cosines are noise (unrelated Korean
    # texts score 0.65 and more), so hybrid search gives them no dense weight.
    languages = frozenset({"en"})

    def __init__(self) -> None:
        self._model = None
        self._tokenizer = None
        self._words: WordTokenCache | None = None
        self._lock = threading.Lock()
        self._known: dict[str, list[int]] = {}

    @property
    def model(self):
        """The loaded ``WordLlamaInference`` (loaded on first access)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    with _root_logging_kept():
                        import wordllama
                        from wordllama import WordLlama

                    # Point cache_dir at the package folder: the weights and tokenizer config
                    # ship there, and without it WordLlama tries to download the tokenizer.
                    self._model = WordLlama.load(
                        cache_dir=Path(wordllama.__file__).parent, dim=self.dimensions
                    )
        return self._model

    @property
    def tokenizer(self):
        """A private copy of the model's tokenizer without padding (thread-safe to share)."""
        if self._tokenizer is None:
            model = self.model
            with self._lock:
                if self._tokenizer is None:
                    from tokenizers import Tokenizer

                    tok = Tokenizer.from_str(model.tokenizer.to_str())
                    tok.no_padding()
                    tok.no_truncation()
                    if splits_exactly_at_spaces(tok):
                        self._words = WordTokenCache(self._encode_batch(tok))
                    self._tokenizer = tok
        return self._tokenizer

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text (no special tokens), batches word by word from a cache.

        Texts registered with :meth:`known_token_ids` are not tokenized again.
        """
        known = self._known
        if known:
            out = [known.get(t) for t in texts]
            todo = [t for t, ids in zip(texts, out, strict=True) if ids is None]
            fresh = iter(self._tokenize(todo) if todo else [])
            return [ids if ids is not None else next(fresh) for ids in out]
        return self._tokenize(texts)

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        tokenizer = self.tokenizer
        if len(texts) == 1:
            return [tokenizer.encode(texts[0], add_special_tokens=False).ids]
        # Batches (ingestion's paragraphs and chunks) go word by word through the cache, which
        # gives the tokenizer's ids at about a third of its CPU (tools.token_cache).
        if self._words is not None:
            return self._words.token_ids(texts)
        return self._encode_batch(tokenizer)(texts)

    @staticmethod
    def _encode_batch(tokenizer):
        def encode(texts: list[str]) -> list[list[int]]:
            # A parallel batch call costs ~2 ms to start whatever its size, so the few new
            # words of each file (ingestion's usual case) are tokenized one by one.
            if len(texts) < PARALLEL_BATCH:
                return [tokenizer.encode(t, add_special_tokens=False).ids for t in texts]
            return [e.ids for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False)]

        return encode

    def token_ids_after_newline(self, texts: list[str]) -> list[list[int] | None]:
        r"""Token ids each text has when it follows a newline inside a longer text.

        The tokenizer (Llama's BPE, no pre-tokenizer) never merges across a newline, so the
        ids of newline-separated parts concatenate to the ids of the whole, except that a text
        on its own starts with the "▁" it prepends. Tokenizing "\n" + text and dropping the
        ids of "\n" alone gives the in-context ids; ``None`` if that prefix did not come out.
        """
        prefix = self._tokenize(["\n"])[0]
        out: list[list[int] | None] = []
        for ids in self._tokenize(["\n" + t for t in texts]) if texts else []:
            out.append(ids[len(prefix) :] if ids[: len(prefix)] == prefix else None)
        return out

    @contextmanager
    def known_token_ids(self, known: dict[str, list[int]]):
        """Within the block, texts in ``known`` embed from these ids, untokenized.

        Ingestion tokenizes each paragraph once to measure it for chunking; the chunker joins
        those ids into each chunk's (tools.ingest.chunking), which embedding then reuses.
        """
        previous, self._known = self._known, known
        try:
            yield
        finally:
            self._known = previous

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """Embed a batch of texts as a ``(len(texts), 256)`` float32 array of unit vectors.

        The same vectors as ``WordLlama.embed(texts, norm=True)`` (the mean of the token
        vectors, L2-normalised), computed text by text without padding: WordLlama pads every
        text to the longest of its batch and pools a (batch, longest, 256) array, which costs
        more than the tokenizing for long, uneven chunks (and ``np.add.reduceat`` over one
        flat gather measured slower still than this loop).
        """
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        table = self.model.embedding
        top = table.shape[0] - 1
        for row, ids in enumerate(self.token_ids(list(texts))):
            if ids:
                tokens = np.asarray(ids, dtype=np.intp)
                np.clip(tokens, 0, top, out=tokens)  # as WordLlama does
                out[row] = table[tokens].sum(axis=0) / len(ids)
        # Texts without tokens (empty input) pool to zero: keep them at zero rather than
        # dividing by a zero norm.
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist() if texts else []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed a batch of texts; one L2-normalised 256-d vector each."""
        return self._embed(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query; an L2-normalised 256-d vector."""
        return self._embed([text])[0]

    def token_count(self, text: str) -> int:
        """Count the WordLlama tokenizer tokens in ``text`` (no special tokens)."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def token_counts(self, texts: list[str]) -> list[int]:
        """:meth:`token_count` of each text, in one batch."""
        return [len(ids) for ids in self.token_ids(texts)] if texts else []


# Foreign (provider) embeddings cannot always take extra attributes (pydantic models), so the
# spec they were built from and their probed dimension are remembered by object id. The
# cache behind load_embeddings keeps those objects alive, and the dimension cache holds a
# reference to each object it measured, so the ids are never reused.
_SPEC_BY_ID: dict[int, str] = {}
_DIMS_BY_ID: dict[int, tuple[Embeddings, int]] = {}
_DIMS_LOCK = threading.Lock()


@cache
def _load(spec: str) -> Embeddings:
    if spec == "wordllama":
        return WordLlamaEmbeddings()
    if ":" not in spec:
        raise ValueError(
            f"Unknown embeddings {spec!r}: use 'wordllama' or 'provider:model' "
            "(e.g. 'openai:text-embedding-3-small')."
        )
    from langchain.embeddings import init_embeddings

    emb = init_embeddings(spec)
    _SPEC_BY_ID[id(emb)] = spec
    return emb


def load_embeddings(spec: str | None = None) -> Embeddings:
    """Return the embeddings named by ``spec`` (callers pass ``Context.embeddings``).

    ``"wordllama"`` (or its model id ``"wordllama:l2_supercat-256"``) gives the offline
    :class:`WordLlamaEmbeddings`; ``"provider:model"`` goes through LangChain's
    ``init_embeddings``. One instance per spec is cached.
    """
    spec = (spec or DEFAULT_SPEC).strip()
    # The stored model id (named in mismatch errors) is accepted as a spec too.
    if spec == WordLlamaEmbeddings.model_id:
        spec = DEFAULT_SPEC
    return _load(spec)


def embedding_model_id(emb: Embeddings) -> str:
    """Return a stable name for ``emb``, stored in the index and compared on every open.

    Uses the ``model_id`` attribute, else the spec it was loaded from, else its ``model``
    attribute, else the class name.
    """
    model_id = getattr(emb, "model_id", None)
    if isinstance(model_id, str) and model_id:
        return model_id
    if id(emb) in _SPEC_BY_ID:
        return _SPEC_BY_ID[id(emb)]
    model = getattr(emb, "model", None)
    if isinstance(model, str) and model:
        return model
    return type(emb).__name__


def embedding_dimensions(emb: Embeddings) -> int:
    """Vector length of ``emb``: its ``dimensions`` attribute, else measured once on a probe."""
    dims = getattr(emb, "dimensions", None)
    if isinstance(dims, int) and dims > 0:
        return dims
    with _DIMS_LOCK:
        if id(emb) not in _DIMS_BY_ID:
            _DIMS_BY_ID[id(emb)] = (emb, len(emb.embed_query("dimension probe")))
        return _DIMS_BY_ID[id(emb)][1]


def embedding_languages(emb: Embeddings) -> frozenset[str] | None:
    """ISO 639-1 codes the embedding model handles, or ``None`` for "any language".

    Read from a ``languages`` attribute (WordLlama: English only). Provider models without one
    (OpenAI, Cohere, ... embeddings are multilingual) count as handling every language.
    """
    langs = getattr(emb, "languages", None)
    return frozenset(langs) if isinstance(langs, (set, frozenset, list, tuple)) else None


def embed_array(emb: Embeddings, texts: list[str], batch: int = 1024) -> np.ndarray:
    """Embed ``texts`` in batches of ``batch`` as a float32 array, one row per text.

    Uses the model's own ``embed_array`` when it has one (WordLlama: no round trip through
    Python lists), else ``embed_documents``.
    """
    native = getattr(emb, "embed_array", None)
    embed = native or emb.embed_documents
    parts = [
        np.asarray(embed(texts[i : i + batch]), dtype=np.float32)
        for i in range(0, len(texts), batch)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, embedding_dimensions(emb)), np.float32)
