"""Translate: detect the user's language and translate the question for retrieval if needed."""

from __future__ import annotations

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import State
from nodes.common import (
    describe_error,
    failure_flags,
    llm_config,
    llm_deadline,
    provider_errors,
    step,
    untrusted,
)
from nodes.condense import clean_question, message_text
from tools.language import detect_language, language_name

NODE = "translate_question"


def needs_translation(question: str, corpus_language: str) -> bool:
    """Whether ``question`` is in another language than the corpus (detected without an LLM)."""
    return detect_language(question, default=corpus_language) != corpus_language


def translate_question(state: State, ctx: Context, services: Services) -> dict:
    """Set ``user_language``, ``corpus_language`` and the ``retrieval_query``.

    Detection needs no LLM. Same language as the corpus: no LLM call. Otherwise one LLM call
    translates the question into the corpus language; offline, the question is searched as
    written and the ``translation_skipped`` flag tells the user why results may be poor.
    """
    question = state["question"]
    index, _ = services.try_index(ctx)
    corpus = index.meta.language if index is not None else "en"
    user = detect_language(question, default=corpus)
    base = {"user_language": user, "corpus_language": corpus, "retrieval_query": question}
    if user == corpus:  # the same test as needs_translation(), which routing uses
        return base | {
            "path": step(NODE, "not_needed", f"question is in the corpus language ({corpus})")
        }
    llm = services.llm(ctx)
    if llm is None:
        return base | {
            "flags": ["translation_skipped"],
            "path": step(
                NODE,
                "skipped",
                f"translation needs an LLM; searching the {language_name(corpus)} corpus with the "
                f"{language_name(user)} question as written",
            ),
        }
    system = ctx.prompt("translate", prompts.TRANSLATE).format(target=language_name(corpus))
    try:
        with llm_deadline(state, ctx):
            reply = llm.invoke(
                [("system", system), ("human", f"<question>{untrusted(question)}</question>")],
                config=llm_config(NODE, user_language=user, corpus_language=corpus),
            )
    except provider_errors() as exc:
        return base | {
            "flags": ["translation_failed", *failure_flags(exc, state, ctx)],
            "path": step(
                NODE, "failed", f"LLM failed ({describe_error(exc)}); searching as written"
            ),
        }
    translated = clean_question(message_text(reply)) or question
    return base | {
        "retrieval_query": translated,
        "path": step(NODE, "translated", f"{user} → {corpus} for retrieval; answer in {user}"),
    }
