"""Summarize: a request about whole documents gets a summary of them, not a matching sentence.

The documents are found by searching the request's topic ("Summarize the Tesla document" →
"Tesla"): the best-matching source, or up to ``summary_max_sources`` when the request names
several ("these files"). Their chunks are summarized in document order:

* with a model, **stuff** (one call) when they fit ``summary_stuff_chars``, else
  **map-reduce**: one call per group of chunks and one to combine, at most
  ``summary_max_calls`` calls in all; the path shows the strategy and the calls;
* offline, or when a call fails, an **extractive summary** (the most representative sentences),
  which the reply says it is.

Every sentence cites the chunks it draws on, and ``respond`` lists them by source.
"""

from __future__ import annotations

import asyncio
import re

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import Doc, State
from nodes.common import ask_model, llm_config, number_documents, step, untrusted
from tools.index.base import IndexError_
from tools.index.filters import FilterError
from tools.index.search import display_name, search
from tools.text.intent import summary_topic, wants_several
from tools.text.language import insufficient_message, language_name
from tools.text.messages import message_text
from tools.text.sanitize import plain_text
from tools.text.summary import extractive_summary, pack

NODE = "summarize_documents"
_CHUNK_NUMBER = re.compile(r"#(\d+)$")


def _position(doc: Doc) -> int:
    found = _CHUNK_NUMBER.search(doc["id"])
    return int(found.group(1)) if found else 0


def chosen_chunks(hits: list[Doc], several: bool, max_sources: int) -> list[Doc]:
    """The hits of the best source (or the best ``max_sources``), each source in reading order."""
    sources: list[str] = []
    for doc in hits:
        if doc["source"] not in sources:
            sources.append(doc["source"])
    sources = sources[: max_sources if several else 1]
    return sorted(
        (d for d in hits if d["source"] in sources),
        key=lambda d: (sources.index(d["source"]), _position(d)),
    )


async def _summarize_with(llm, chunks: list[Doc], state: State, ctx: Context):
    """``(summary, strategy, calls)`` from the model; the summary is empty when a call failed."""
    language = language_name(state.get("user_language", "en"))
    request = f"<question>{untrusted(state['question'])}</question>\n"
    numbered = list(enumerate(chunks, 1))
    sizes = [len(d["content"]) for d in chunks]
    if sum(sizes) <= ctx.summary_stuff_chars or ctx.summary_max_calls < 3:
        groups = [list(range(len(chunks)))]
    else:
        groups = pack(sizes, ctx.summary_stuff_chars, ctx.summary_max_calls - 1)

    async def summarize(group: list[int]) -> str:
        shown = [(n, d | {"content": d["content"][: ctx.summary_stuff_chars]})
                 for n, d in (numbered[i] for i in group)]  # fmt: skip
        system = ctx.prompt("summarize", prompts.SUMMARIZE).format(language=language)
        reply = await ask_model(
            NODE,
            state,
            ctx,
            lambda: llm.ainvoke(
                [("system", system), ("human", request + number_documents(shown))],
                config=llm_config(NODE),
            ),
        )
        return plain_text(message_text(reply.value))[0] if reply.value is not None else ""

    # Map calls run concurrently: each waits on the provider, not on the CPU.
    parts = await asyncio.gather(*(summarize(g) for g in groups))
    if len(groups) == 1:
        return parts[0], "stuff", 1
    if not all(parts):
        return "", "map-reduce", len(groups)
    system = ctx.prompt("summarize_reduce", prompts.SUMMARIZE_REDUCE).format(language=language)
    joined = "\n".join(f"<answer>{untrusted(p)}</answer>" for p in parts)
    reply = await ask_model(
        NODE,
        state,
        ctx,
        lambda: llm.ainvoke(
            [("system", system), ("human", request + joined)], config=llm_config(NODE)
        ),  # fmt: skip
    )
    summary = plain_text(message_text(reply.value))[0] if reply.value is not None else ""
    return summary, "map-reduce", len(groups) + 1


async def summarize_documents(state: State, ctx: Context, services: Services) -> dict:
    """Summarize the documents the request is about, with citations; offline, extractively."""
    question = state.get("retrieval_query") or state["question"]

    def open_and_search() -> list:  # one worker thread for both, as retrieval does
        index = services.require_index(ctx)
        return search(index, summary_topic(question), ctx.summary_chunks, filters=ctx.doc_filter())

    try:
        hits = await asyncio.to_thread(open_and_search)
    except (IndexError_, FilterError) as exc:
        return {
            "route": "error",
            "answer": f"The index is unavailable: {exc}",
            "flags": ["index_unavailable"],
            "failures": [{"node": NODE, "kind": "index", "cause": str(exc)}],
            "path": step(NODE, "error", str(exc)),
        }
    chunks = chosen_chunks(hits, wants_several(state["question"]), ctx.summary_max_sources)
    if not chunks:
        return {
            "route": "insufficient",
            "answer": insufficient_message(state.get("user_language", "en")),
            "flags": ["insufficient"],
            "path": step(NODE, "insufficient", "no document matches the request"),
        }
    names = ", ".join(dict.fromkeys(display_name(d) for d in chunks))
    where = f"{len(chunks)} chunks of {names}"
    llm = services.llm(ctx)
    summary, flags = "", []
    if llm is not None:
        summary, strategy, calls = await _summarize_with(llm, chunks, state, ctx)
        decision, reason = strategy, f"{calls} model call(s) over {where}"
        if not summary:
            flags = ["llm_error"]
            reason += "; a call failed, extractive summary instead"
    if not summary:
        embeddings = await asyncio.to_thread(services.embedder, ctx)
        summary = await asyncio.to_thread(extractive_summary, chunks, embeddings)
        decision = "extractive"
        reason = (reason + " ") if llm is not None else ""
        reason += f"the most representative sentences of {where}"
        flags.append("extractive_summary")
    return {
        "documents": chunks,
        "relevant_ids": [d["id"] for d in chunks],
        "answer": summary,
        "route": "summary",
        "flags": flags,
        "path": step(NODE, decision, reason),
    }
