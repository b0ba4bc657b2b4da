"""A LanceDB table's in-memory copy, and when to build it: now, in the background, or never.

A copy holds the rows as one Arrow table (no vectors), the unit vectors as one numpy matrix and
in-process BM25 postings (:mod:`tools.index.bm25`). Searching it costs no LanceDB call: each
of those has a fixed ~3.5 ms of CPU even on 240 rows (query planning, an async hop, reading the
index), and at 100k chunks the FTS, ANN and row reads together cost ~10 ms p50 on an idle
machine, against 2.8 ms for the copy (``benchmarks/retrieval``).

* Under ``SMALL_TABLE_ROWS`` rows the copy is built on the first search, in the caller's thread
  (tens of milliseconds); its BM25 postings too, up to ``MEMORY_BM25_CHARS`` of text.
* Beyond either limit, and up to ``MEMORY_TABLE_ROWS`` rows and ``BACKGROUND_MEMORY_CHARS``
  characters, a daemon thread builds what is missing (7-8 s for 100k paragraph chunks, 54M
  characters). Until it is done, searches go through LanceDB as before; so results can
  change once, when the copy takes over (in-process BM25 ranks close to LanceDB's: the same
  top hit for 97.5% of 200 Belebele-en questions).
* Bigger tables stay in LanceDB alone: the copy would hold every vector and text in RAM.
  ``ARAG_MEMORY_COPY_ROWS`` and ``ARAG_MEMORY_COPY_CHARS`` set the two background limits
  (read at import; 0 turns the background copy off).

A write through the index drops the copy (:meth:`MemoryCopies.drop`); a build that started
before the write is thrown away when it ends.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import numpy as np

from tools.index import bm25
from tools.index.topk import largest

log = logging.getLogger(__name__)

# Below this many rows the copy is built in the caller's thread (vectors, texts, metadata; at
# most ~80 MB with 800-token chunks): an exact vector search in numpy takes microseconds.
SMALL_TABLE_ROWS = 20_000
# Up to this many characters of text, a small table's BM25 postings are built with it (up to
# ~1 s of CPU); beyond, in the background.
MEMORY_BM25_CHARS = 2_000_000


def _env_limit(name: str, default: int) -> int:
    """A whole number ≥ 0 from the environment variable ``name``, else ``default``."""
    raw = os.environ.get(name, "").strip().replace("_", "")
    if not raw:
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number of 0 or more, got {raw!r}")
    return int(raw)


# Up to these sizes a copy (or the postings) is built in a background thread. 100k paragraph
# chunks (256-d vectors, 54M characters) hold 280 MB: vectors 98, their PCA projection 49,
# rows 96, postings 36; the process grew by ~540 MB. MEMORY_TABLE_ROWS = 0 keeps tables from
# SMALL_TABLE_ROWS on in LanceDB; BACKGROUND_MEMORY_CHARS = 0 turns every background build off.
# Each server process holds its own copy, so a deployer short of memory lowers them.
MEMORY_TABLE_ROWS = _env_limit("ARAG_MEMORY_COPY_ROWS", 150_000)
BACKGROUND_MEMORY_CHARS = _env_limit("ARAG_MEMORY_COPY_CHARS", 100_000_000)
# From this many rows a copy's vector search goes through a funnel: candidates from a PCA
# projection (half the dimensions), ranked by the full vectors (MemoryTable._build_funnel).
FUNNEL_MIN_ROWS = 50_000
FUNNEL_CANDIDATES = 500  # at least this many candidates, and FUNNEL_RATIO per result wanted
FUNNEL_RATIO = 25
FUNNEL_SAMPLE = 20_000  # rows the principal components are fitted on


class MemoryTable:
    """A table held in memory: rows as Arrow, unit vectors as one numpy matrix, BM25.

    BM25 (:mod:`tools.index.bm25`) tokenizes the texts once, with the tokenizer the corpus
    language's FTS index uses; ``bm25`` is ``None`` until built (:meth:`build_bm25`).
    """

    def __init__(self, table, tokenizer_args: tuple[str | None, str | None]):
        # One chunk per column: ``take`` on the many chunks of a table read fragment by
        # fragment cost 13 ms per search at 100k rows, 0.2 ms combined.
        self.table = table.drop_columns(["vector"]).combine_chunks()
        vectors = table["vector"].combine_chunks()
        matrix = np.array(vectors.values, dtype=np.float32).reshape(len(table), -1)  # one copy
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.vectors = np.divide(matrix, norms, out=matrix, where=norms > 0)  # zero rows stay 0
        self.position = {rid: i for i, rid in enumerate(table["id"].to_pylist())}
        self.text_chars = text_chars(table["text"])
        self.tokenize = bm25.tokenizer(*tokenizer_args)
        self.bm25: bm25.TermBm25 | None = None
        self._funnel: tuple[np.ndarray, np.ndarray] | None = None
        if len(self.vectors) >= FUNNEL_MIN_ROWS and self.vectors.shape[1] >= 64:
            self._build_funnel()

    def build_bm25(self) -> None:
        """Tokenize every text and build the postings (then ``bm25`` is set)."""
        texts = self.table["text"].to_pylist()  # one list of str: the tokens are not kept
        self.bm25 = bm25.TermBm25(self.tokenize(t or "") for t in texts)

    def _unit(self, qvec: np.ndarray) -> np.ndarray:
        norm = float(np.linalg.norm(qvec))
        return qvec / norm if norm > 0 else np.zeros_like(qvec, dtype=np.float32)

    def cosines_at(self, qvec: np.ndarray, positions: list[int]) -> np.ndarray:
        """Exact cosines of the rows at ``positions`` with ``qvec`` (LanceDB's: 1 - distance)."""
        if not positions:
            return np.zeros(0, dtype=np.float32)
        return self.vectors[positions] @ self._unit(qvec)

    def nearest(self, qvec: np.ndarray, k: int, allowed: list[int] | None = None) -> list[int]:
        """Positions of the ``k`` rows nearest ``qvec`` (cosine), best first.

        Exact cosines rank them (ties: lower position first). ``allowed`` restricts the search
        to those positions (a document filter). Tables from ``FUNNEL_MIN_ROWS`` rows on find
        their candidates through the funnel (:meth:`_build_funnel`) first.
        """
        unit = self._unit(qvec)
        if allowed is not None:
            candidates = np.asarray(allowed, dtype=np.int64)
        elif self._funnel is not None and len(self.vectors) > FUNNEL_CANDIDATES:
            projected, basis = self._funnel
            approx = projected @ (unit @ basis)
            wanted = max(FUNNEL_CANDIDATES, FUNNEL_RATIO * k)
            candidates = largest(approx, wanted)
        else:
            candidates = None
        if candidates is None:
            if len(self.vectors) >= SMALL_TABLE_ROWS:
                # BLAS: on 100k x 256, 2.3 ms wall (two threads) against 7.7 ms for einsum.
                cosines = self.vectors @ unit
            else:
                # einsum on small tables: BLAS's threaded matrix-vector product took 3.4 ms of
                # CPU on 10k rows (0.7 ms here) on 2 busy cores, and its spinning threads slowed
                # BM25 after.
                cosines = np.einsum("ij,j->i", self.vectors, unit)
            return _top(cosines, np.arange(len(cosines)), k)
        return _top(self.vectors[candidates] @ unit, candidates, k)

    def _build_funnel(self) -> None:
        """Project the vectors on their top principal components (half the dimensions).

        The projection's inner products rank close to the full cosines: on 100k WordLlama
        chunks (256-d, 200 real questions), the exact top 20 are 99.5% among the projection's
        top 500, which the full vectors then rank; 1.0 ms wall instead of 2.3-2.8 ms. PCA,
        not the first dimensions: it holds for any embedding model, not only Matryoshka ones.
        """
        n, dims = self.vectors.shape
        sample = self.vectors[:: max(1, n // FUNNEL_SAMPLE)]
        _, eigenvectors = np.linalg.eigh(np.cov(sample, rowvar=False))  # ascending variance
        basis = np.ascontiguousarray(eigenvectors[:, ::-1][:, : dims // 2], dtype=np.float32)
        # Rows are projected uncentred: (v - mean) . p and v . p differ by one constant per
        # query, which does not change the ranking.
        self._funnel = (self.vectors @ basis, basis)

    def rows(self, positions: list[int]) -> list[dict]:
        """The rows at ``positions``, in that order, as dicts."""
        return self.table.take(positions).to_pylist() if positions else []


def _top(cosines: np.ndarray, positions: np.ndarray, k: int) -> list[int]:
    """The ``positions`` of the ``k`` highest ``cosines`` (parallel arrays), best first."""
    k = min(k, len(cosines))
    if k <= 0:
        return []
    top = largest(cosines, k)
    order = sorted(top.tolist(), key=lambda i: (-cosines[i], positions[i]))
    return [int(positions[i]) for i in order]


def text_chars(texts) -> int:
    """Total characters in an Arrow string column (nulls count 0)."""
    import pyarrow.compute as pc

    total = pc.sum(pc.utf8_length(texts)).as_py()
    return int(total or 0)


class MemoryCopies:
    """One index handle's copy: built on demand, dropped on writes, thread-safe.

    ``load`` reads the table (rows and vectors) as Arrow; ``tokenizer_args`` gives the BM25
    tokenizer for the current corpus language.
    """

    def __init__(self, load: Callable[[], object], tokenizer_args: Callable[[], tuple]):
        self._load = load
        self._tokenizer_args = tokenizer_args
        self._lock = threading.Lock()
        self._copy: MemoryTable | None = None
        self._epoch = 0  # bumped by drop(): a build from an older epoch is discarded
        self._job: threading.Thread | None = None
        self._job_epoch = -1
        # No copy for this epoch: the table outgrew BACKGROUND_MEMORY_CHARS, or the build failed.
        self._given_up_epoch = -1

    @property
    def current(self) -> MemoryTable | None:
        """The copy if one is ready (no build started)."""
        return self._copy

    def drop(self) -> None:
        """Forget the copy (the table changed); a running build's result will be discarded."""
        with self._lock:
            self._copy = None
            self._epoch += 1

    def get(self, rows: int) -> MemoryTable | None:
        """The copy for a table of ``rows`` rows if ready, else ``None`` (maybe starting a build).

        Small tables are copied here and now; the rest in the background (see the module).
        """
        copy = self._copy
        if copy is None and 0 < rows < SMALL_TABLE_ROWS:
            with self._lock:
                if self._copy is None:
                    copy = MemoryTable(self._load(), self._tokenizer_args())
                    if copy.text_chars <= MEMORY_BM25_CHARS:
                        copy.build_bm25()
                    self._copy = copy
                copy = self._copy
        if copy is not None:
            if copy.bm25 is None and copy.text_chars <= BACKGROUND_MEMORY_CHARS:
                self._start(rows)
            return copy
        if SMALL_TABLE_ROWS <= rows <= MEMORY_TABLE_ROWS:
            self._start(rows)
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running build; whether it ended within ``timeout`` seconds."""
        job = self._job
        if job is not None:
            job.join(timeout)
            return not job.is_alive()
        return True

    def _start(self, rows: int) -> None:
        with self._lock:
            epoch = self._epoch
            running = self._job is not None and self._job.is_alive()
            if (running and self._job_epoch == epoch) or self._given_up_epoch == epoch:
                return
            if not BACKGROUND_MEMORY_CHARS:
                return
            self._job_epoch = epoch
            self._job = threading.Thread(
                target=self._build, args=(epoch, rows), name="arag-memory-copy", daemon=True
            )
            self._job.start()

    def _build(self, epoch: int, rows: int) -> None:
        try:
            copy = self._copy if rows < SMALL_TABLE_ROWS else None
            if copy is None:
                copy = MemoryTable(self._load(), self._tokenizer_args())
            if copy.text_chars > BACKGROUND_MEMORY_CHARS:
                self._give_up(epoch)
                return
            if copy.bm25 is None:
                copy.build_bm25()
        except Exception as exc:  # searches keep going through LanceDB
            log.warning("Could not build the index's in-memory copy (%s).", exc)
            self._give_up(epoch)  # not retried on every search; a write or refresh retries
            return
        with self._lock:
            if self._epoch == epoch:
                self._copy = copy

    def _give_up(self, epoch: int) -> None:
        with self._lock:
            self._given_up_epoch = epoch
