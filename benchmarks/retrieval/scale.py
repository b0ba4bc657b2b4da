"""Synthetic scale corpus: real paragraphs planted among generated ones, cached with vectors.

How the corpus is made (deterministic, ``SEED``):

* Real paragraphs: every XQuAD-en and Belebele-en paragraph (728) comes first, so the real
  questions' gold paragraphs are inside at every size and recall stays measurable.
* Generated paragraphs: a word-frequency model of the shared sets' texts (XQuAD-en,
  Belebele-en, HotpotQA paragraphs). Each generated paragraph takes a random real paragraph as
  its "topic": its length is that paragraph's word count, its title is that paragraph's title, and
  each word is drawn with probability ``TOPIC_SHARE`` from the topic paragraph's words, else from
  the global unigram distribution. So generated paragraphs share vocabulary and titles with the
  gold ones and act as hard-ish distractors for both BM25 and the dense model.
* Texts are the title line, a blank line, then the body (what the chunker produces for a
  one-chunk paragraph).

That recipe (``topics="all"``, 2,219 topics) makes large sizes unrealistically hard: at 1M rows
each of the 728 gold paragraphs has ~450 generated paragraphs with its title and half their words
drawn from it. The second recipe (``topics="other"``, ``make bench-ann CORPUS=other-topics``)
draws the generated paragraphs' topics from the 1,491 HotpotQA paragraphs only (Wikipedia
paragraphs on other subjects), with the same global unigram distribution: a large corpus of
unrelated documents around the relevant ones. No generated paragraph takes a gold paragraph's
title or draws words from it; the shared vocabulary and Wikipedia's overlapping subjects still
put related text nearby.

The corpus is stored in shards of ``SHARD`` rows (Parquet: ids, title, text and the WordLlama
vector), so a size of N rows is the first N rows and larger sizes reuse the smaller ones' shards.
Vectors are computed once, in large batches, and reused by both stacks on reruns.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langchain_core.documents import Document

from arag.evaluation.datasets import BELEBELE, HOTPOT, SHARED_DATA, XQUAD_EN, select, titled_text
from benchmarks.retrieval.common import parse_size

SEED = 20240611
SHARD = 10_000
TOPIC_SHARE = 0.5
SENTENCE_WORDS = 18
CACHE_VERSION = 1
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")


@dataclass
class WordModel:
    """Global unigram distribution plus every real paragraph's words (as vocabulary ids)."""

    vocab: np.ndarray  # str objects
    probs: np.ndarray
    flat: np.ndarray  # all topic paragraphs' word ids, concatenated
    starts: np.ndarray
    lengths: np.ndarray
    titles: list[str]


@dataclass
class RealCorpus:
    """The planted paragraphs (as documents) and the questions whose gold they are."""

    docs: list[Document]
    questions: list[tuple[str, list[str]]]
    model: WordModel
    topics: str = "all"  # the recipe (load_real)


TOPIC_RECIPES = ("all", "other")


def load_real(data_dir: Path = SHARED_DATA, topics: str = "all") -> RealCorpus:
    """Planted documents, their questions, and the word model built from all shared sets.

    ``topics``: the paragraphs generated ones are modelled on, ``"all"`` (planted and HotpotQA)
    or ``"other"`` (HotpotQA only; see the module docstring).
    """
    if topics not in TOPIC_RECIPES:
        raise ValueError(f"topics must be one of {TOPIC_RECIPES}, got {topics!r}")
    xquad = select(data_dir / XQUAD_EN)
    bele = select(data_dir / BELEBELE, "en")
    hotpot = select(data_dir / HOTPOT)
    planted = xquad.paragraphs + bele.paragraphs
    docs = [
        Document(
            titled_text(p.title, p.text),
            metadata={"source": p.pid, "title": p.title, "chunk_id": f"real:{p.pid}"},
        )
        for p in planted
    ]
    questions = [(q.text, list(q.gold)) for q in xquad.questions + bele.questions]
    every = planted + hotpot.paragraphs
    ids: dict[str, int] = {}
    token_ids = [[ids.setdefault(w, len(ids)) for w in _WORD.findall(p.text)] for p in every]
    counts = np.bincount(np.concatenate([np.asarray(t) for t in token_ids]), minlength=len(ids))
    first = 0 if topics == "all" else len(planted)
    topic_ids, topic_paragraphs = token_ids[first:], every[first:]
    lengths = np.array([len(t) for t in topic_ids])
    model = WordModel(
        vocab=np.array(list(ids), dtype=object),
        probs=counts / counts.sum(),
        flat=np.concatenate([np.asarray(t) for t in topic_ids]),
        starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]),
        lengths=lengths,
        titles=[p.title for p in topic_paragraphs],
    )
    return RealCorpus(docs, questions, model, topics)


def generate(model: WordModel, count: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """``count`` generated ``(title, text)`` paragraphs (see the module docstring)."""
    topics = rng.integers(0, len(model.lengths), size=count)
    lengths = np.maximum(model.lengths[topics], 20)
    total = int(lengths.sum())
    owner = np.repeat(topics, lengths)
    from_topic = rng.random(total) < TOPIC_SHARE
    words = rng.choice(len(model.vocab), size=total, p=model.probs)
    pick = (rng.random(total) * model.lengths[owner]).astype(np.int64)
    words[from_topic] = model.flat[model.starts[owner[from_topic]] + pick[from_topic]]
    out = []
    for topic, chunk in zip(
        topics, np.split(model.vocab[words], np.cumsum(lengths)[:-1]), strict=True
    ):
        sentences = [
            " ".join(chunk[i : i + SENTENCE_WORDS]) + "."
            for i in range(0, len(chunk), SENTENCE_WORDS)
        ]
        title = model.titles[topic]
        out.append((title, titled_text(title, " ".join(sentences))))
    return out


def _shard_path(cache_dir: Path, shard: int) -> Path:
    return cache_dir / f"shard-{shard:05d}.parquet"


def cache_dir_for(root: Path, topics: str = "all") -> Path:
    """The cache folder for this corpus recipe (a new recipe gets a new folder)."""
    suffix = "" if topics == "all" else f"-topics-{topics}"
    return root / f"scale-v{CACHE_VERSION}-seed{SEED}-shard{SHARD}{suffix}"


def ensure_corpus(
    cache_dir: Path,
    size: int,
    real: RealCorpus,
    log: Callable[[str], None] = print,
    *,
    descending: bool = False,
) -> None:
    """Generate and embed the shards needed for ``size`` rows that are not cached yet.

    Shards are written atomically, so an interrupted run or a concurrent one loses nothing;
    ``descending`` fills from the last shard down (a pre-fill running beside a benchmark run).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tools.embeddings import load_embeddings

    if size < len(real.docs):
        raise ValueError(f"scale size {size} is below the {len(real.docs)} planted paragraphs")
    cache_dir.mkdir(parents=True, exist_ok=True)
    embeddings = load_embeddings("wordllama")
    shards = range(-(-size // SHARD))
    for shard in reversed(shards) if descending else shards:
        path = _shard_path(cache_dir, shard)
        if path.exists():
            continue
        t0 = time.perf_counter()
        rng = np.random.default_rng([SEED, shard])
        planted = real.docs if shard == 0 else []
        generated = generate(real.model, SHARD - len(planted), rng)
        ids = [d.metadata["chunk_id"] for d in planted] + [
            f"syn:{shard * SHARD + i}" for i in range(len(planted), SHARD)
        ]
        sources = [d.metadata["source"] for d in planted] + ids[len(planted) :]
        titles = [d.metadata["title"] for d in planted] + [t for t, _ in generated]
        texts = [d.page_content for d in planted] + [t for _, t in generated]
        vectors = embeddings.embed_array(texts)
        flat = pa.array(vectors.reshape(-1), pa.float32())
        table = pa.table(
            {
                "chunk_id": ids,
                "source": sources,
                "title": titles,
                "text": texts,
                "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]),
            }
        )
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # a concurrent filler writes its own
        pq.write_table(table, tmp)
        tmp.replace(path)
        log(
            f"scale corpus: shard {shard} ({SHARD} rows) generated and embedded in "
            f"{time.perf_counter() - t0:.1f}s"
        )
    (cache_dir / "recipe.json").write_text(
        json.dumps(
            {"seed": SEED, "shard": SHARD, "topic_share": TOPIC_SHARE, "topics": real.topics}
        ),
        encoding="utf-8",
    )


def iter_corpus(cache_dir: Path, size: int) -> Iterator[tuple[list[Document], np.ndarray]]:
    """The first ``size`` rows as (documents, vectors) batches of at most ``SHARD`` rows."""
    import pyarrow.parquet as pq

    remaining = size
    shard = 0
    while remaining > 0:
        table = pq.read_table(_shard_path(cache_dir, shard)).slice(0, remaining)
        vec = table.column("vector").combine_chunks()
        vectors = vec.values.to_numpy().reshape(len(table), -1)
        cols = {name: table.column(name).to_pylist() for name in ("chunk_id", "source", "title")}
        docs = [
            Document(
                text,
                metadata={"chunk_id": cid, "source": src, "title": title},
            )
            for text, cid, src, title in zip(
                table.column("text").to_pylist(),
                cols["chunk_id"],
                cols["source"],
                cols["title"],
                strict=True,
            )
        ]
        yield docs, vectors
        remaining -= len(table)
        shard += 1


def write_ingest_files(folder: Path, real: RealCorpus, files: int, paragraphs: int = 20) -> None:
    """Write ``files`` Markdown articles (a title heading, ``paragraphs`` generated paragraphs).

    Used to measure ``tools.ingest.pipeline.ingest`` on files with its default chunking.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([SEED, 999_999])
    for i in range(files):
        paras = generate(real.model, paragraphs, rng)
        body = "\n\n".join(text.split("\n\n", 1)[-1] for _, text in paras)
        title = paras[0][0] or f"Article {i}"
        (folder / f"article-{i:04d}.md").write_text(f"# {title}\n\n{body}\n", encoding="utf-8")


if __name__ == "__main__":  # pre-fill the cache: python -m benchmarks.retrieval.scale 1M
    import sys

    ensure_corpus(
        cache_dir_for(Path(".arag-bench")), parse_size(sys.argv[1]), load_real(), descending=True
    )
