"""Translate: detect the user's language and translate the question for retrieval if needed."""

from __future__ import annotations

from graph import prompts
from graph.config import Context
from graph.services import Services
from graph.state import State
from nodes.common import ask_model, llm_config, step, untrusted
from tools.text.language import detect_language, language_name, translation_doubt
from tools.text.messages import clean_question, message_text
from tools.text.sanitize import plain_text

NODE = "translate_question"


async def translate_question(state: State, ctx: Context, services: Services) -> dict:
    """Set ``user_language`` and the ``retrieval_query`` (``corpus_language`` comes from condense).

    Detection needs no LLM. Same language as the corpus: no LLM call. Otherwise one LLM call
    translates the question into the corpus language; offline, the question is searched as
    written and the ``translation_skipped`` flag tells the user why results may be poor.
    """
    question = state["question"]
    corpus = state.get("corpus_language") or "en"
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
    reply = await ask_model(
        NODE,
        state,
        ctx,
        lambda: llm.ainvoke(
            [("system", system), ("human", f"<question>{untrusted(question)}</question>")],
            config=llm_config(NODE, user_language=user, corpus_language=corpus),
        ),
    )
    if reply.value is None:
        return (
            base
            | reply.fallback("translation_failed")
            | {
                "path": step(NODE, "failed", f"{reply.why}; searching as written"),
            }
        )
    translated, _ = plain_text(clean_question(message_text(reply.value)))
    doubt = translation_doubt(question, translated, corpus)
    if doubt:
        return base | {
            "retrieval_query": translated or question,
            "translation_doubtful": True,
            "flags": ["translation_doubtful"],
            "path": step(NODE, "doubtful", f"{doubt}; the question as written is searched too"),
        }
    return base | {
        "retrieval_query": translated,
        "path": step(NODE, "translated", f"{user} → {corpus} for retrieval; answer in {user}"),
    }
