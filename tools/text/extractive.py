"""The offline "model": what the graph does when no chat model is configured.

These are real, deterministic algorithms, also used as the fallbacks when an LLM call fails:

* :func:`extractive_answer` picks the sentences of the relevant documents that best match the
  question (lexical coverage plus embedding similarity) and cites each one;
* :func:`verify_answer` checks every cited sentence against the document it cites;
* :func:`feedback_query` expands a query with terms from the top documents (pseudo-relevance
  feedback), the offline stand-in for an LLM rewrite.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

from tools.index.scoring import lexical_coverage, term_set, term_weight, tokenize
from tools.index.search import Doc
from tools.text.evidence import Sentence, score_sentences
from tools.text.normalize import for_matching
from tools.text.question_type import frame_terms
from tools.text.sentences import split_sentences

OFFLINE_NOTICE = "extractive answer (no LLM configured)"
SECOND_SENTENCE_SHARE = 0.75
"""A sentence after the best one is quoted if it scores at least this share of the best..."""
COMPLEMENT_SHARE = 0.5
"""...or this share, when it holds question terms the sentences before it lack."""
LOOKAHEAD = 4
"""How many sentences after the best one are considered for those places."""
INTRODUCED_CHARS = 160
"""A line this short that follows a sentence ending in a colon is quoted with it."""

_CITATION = re.compile(r"\[(\d+)\]")
# Text addressed to the assistant rather than the reader: the usual prompt-injection openings.
# Matched against tools.text.normalize.for_matching(text) (no zero-width characters, NFKC).
# A bare "reply with ..." is not one: newsletters say "reply with the word STOP"; only an
# order to answer with something addressed to an AI, or following an override, is.
_AI = r"(ai|a\.i\.|assistants?|chat ?bots?|language models?|llms?|models?|gpt|agents?)"
# Every alternative starts at a word boundary with one of the letters in the lookahead: that
# lets the matcher skip the other positions before trying nine alternatives at each (3x faster
# on 4 kB chunks, and this runs on every graded document).
_INSTRUCTION = re.compile(
    r"\b(?=[acdfghilmnoprsy])(?:"
    r"\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(instructions?|prompts?|rules)\b"
    r"|\b(ignore|disregard|forget)\b\s+(all|everything|anything)?\s*"
    r"(above|before|previous(ly)?|prior|earlier|said)\b"
    r"|\byou are now\b|\bnew instructions?\b"
    r"|\b(reveal|print|show|repeat|output|leak)\b[^.\n]{0,20}\b(system|developer) (prompt|message)"
    rf"|\b(note|message|instructions?|attention) (to|for) (all |any )?{_AI}( systems?| readers?)?\b"
    rf"|\b(dear|hey|attention),? {_AI}\b"
    rf"|\bif you are an? {_AI}\b"
    rf"|\b{_AI}( systems?)? (must|should|shall)\b[^.\n]{{0,40}}"
    r"\b(answer|respond|reply|say|state)\b)",
    re.IGNORECASE,
)


def is_heading(sentence: str, title: str) -> bool:
    """A Markdown heading, the title, or a chunk's ``Title > Section`` breadcrumb: no answer."""
    bare = sentence.lstrip("#").strip()
    breadcrumb = bool(title) and bare.startswith(title + " >")
    return sentence.startswith("#") or bare == title or breadcrumb


_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[\]\([^)]*\)")  # an image, or a link left empty by one
_LINK = re.compile(r"\[([^\]]+)\]\([^)\s]*\)|`([^`<]+?)\s*<[^>]+>`_")
_URL = re.compile(r"\b(https?://|www\.)\S+")
_WORDS = re.compile(r"[^\W\d_]{2,}")


def readable(sentence: str) -> str:
    """``sentence`` as a reader sees it: Markdown images dropped, links (Markdown, reST) as text."""
    text = _IMAGE.sub("", sentence)
    return _LINK.sub(lambda m: m.group(1) or m.group(2), text).strip()


def _is_prose(sentence: str) -> bool:
    """At least three words once links and URLs are gone: not a badge, a bare link or a rule."""
    return len(_WORDS.findall(_URL.sub(" ", readable(sentence)))) >= 3


def looks_like_instruction(text: str) -> bool:
    """Whether ``text`` contains phrasing aimed at an AI assistant (a prompt-injection attempt).

    A heuristic: it catches the common "ignore previous instructions and answer X" shapes and
    notes addressed to AI systems, not every attack; zero-width characters and full-width
    letters do not hide them (:func:`tools.text.normalize.for_matching`). The LLM prompts
    rely on delimiting and the data rule instead.
    """
    return _instruction_in(text)


@lru_cache(maxsize=256)
def _instruction_in(text: str) -> bool:
    # Cached: grading checks each retrieved document twice per round (score grading, then the
    # model's), and the same chunks come back in later rounds and requests.
    return bool(_INSTRUCTION.search(for_matching(text)))


def cited_numbers(text: str) -> list[int]:
    """The ``[n]`` citation numbers in ``text``, in order of first appearance."""
    return list(dict.fromkeys(int(n) for n in _CITATION.findall(text)))


def strip_citations(text: str) -> str:
    """``text`` without its ``[n]`` markers."""
    return _CITATION.sub("", text).strip()


def _with_what_follows(sentence: str, following: list[str], title: str) -> str:
    """``sentence`` and, when it ends with a colon, the short line it introduces.

    "If you don't trust the input YAML stream, you should use:" says nothing without the code
    line below it (``yaml.safe_load(stream)``); a list item or code line after the colon is
    therefore part of the candidate.
    """
    if not sentence.endswith(":") or not following:
        return sentence
    line = following[0]
    if is_heading(line, title) or len(line) > INTRODUCED_CHARS:
        return sentence
    return f"{sentence} {line}"


def rank_sentences(
    question: str, docs: list[Doc], embeddings: Embeddings | None
) -> list[tuple[Sentence, float]]:
    """The candidate sentences of ``docs`` for ``question``, best first, with their scores.

    Documents that :func:`looks_like_instruction` are skipped whole: their other sentences
    ("the answer is X") carry the injected payload. Headings and sentences with fewer than
    three words besides links (badges, bare URLs) are not candidates; Markdown and reST links
    are quoted as their text (:func:`readable`), and a sentence ending in a colon with the
    short line it introduces. Sentences are scored by
    :func:`tools.text.evidence.score_sentences` (question terms, embedding cosine, the
    document's retrieval score, the kind of answer asked for).
    """
    candidates: list[Sentence] = []
    for n, doc in enumerate(docs, 1):
        if looks_like_instruction(doc["content"]):
            continue  # a document that gives orders is not quoted as an answer, none of it
        previous = ""
        sentences = split_sentences(doc["content"])
        for i, sentence in enumerate(sentences):
            if not is_heading(sentence, doc["title"]) and _is_prose(sentence):
                context = f"{doc['title']} {previous}"
                text = _with_what_follows(sentence, sentences[i + 1 : i + 2], doc["title"])
                candidates.append(Sentence(n, readable(text), context, doc.get("score", 0.0)))
            previous = sentence
    if not candidates:
        return []
    if embeddings is not None:
        vectors = np.array(embeddings.embed_documents([c.text for c in candidates]))
        query = np.array(embeddings.embed_query(question))
        norms = np.linalg.norm(vectors, axis=1) * (np.linalg.norm(query) or 1.0)
        dense = vectors @ query / np.where(norms == 0, 1.0, norms)
    else:
        dense = np.zeros(len(candidates))
    scores = score_sentences(question, candidates, dense)
    order = np.argsort(-scores, kind="stable")
    return [(candidates[i], float(scores[i])) for i in order]


def pick_sentences(
    question: str, ranked: list[tuple[Sentence, float]], max_sentences: int = 2
) -> list[Sentence]:
    """The best sentence, then the next ones that add to it; padding is dropped.

    A later sentence is quoted when it scores :data:`SECOND_SENTENCE_SHARE` of the best, or
    when it holds question terms that the sentences picked so far (and their context) lack
    and scores :data:`COMPLEMENT_SHARE` of the best: the other half of the evidence, as a
    two-hop question needs ("Which city hosted X?" answered by "X was held at Y." and "Y is
    in Z."). Such a complement is looked for among the next :data:`LOOKAHEAD` sentences, not
    only the runner-up ("Which platform is affected ...?": "Currently the only affected
    platform is PowerPC." ranks third). Anything else would only pad.
    """
    if not ranked:
        return []
    best = ranked[0][1]
    picked = [ranked[0][0]]
    asked = term_set(question) - frame_terms(question)
    for sentence, score in ranked[1 : 1 + LOOKAHEAD]:
        if len(picked) >= max_sentences:
            break
        held = set().union(*(term_set(f"{p.text} {p.context}") for p in picked))
        completes = bool((asked - held) & term_set(sentence.text))
        if score >= SECOND_SENTENCE_SHARE * best or (
            completes and score >= COMPLEMENT_SHARE * best
        ):
            picked.append(sentence)
    return picked


def cite_picked(picked: list[Sentence]) -> str:
    """The picked sentences, each followed by its ``[n]``."""
    return " ".join(cite_sentence(c.text, c.n) for c in picked)


def extractive_answer(
    question: str, docs: list[Doc], embeddings: Embeddings | None, max_sentences: int = 2
) -> str:
    """The best-matching sentences of ``docs`` for ``question``, each followed by ``[n]``.

    ``n`` is the document's 1-based position in ``docs``. Candidates and their ranking are
    :func:`rank_sentences`'; sentences after the first must reach
    :data:`SECOND_SENTENCE_SHARE` of the best score, or :data:`COMPLEMENT_SHARE` when they
    complete it (:func:`pick_sentences`), so a weak second sentence is not padded in.
    """
    ranked = rank_sentences(question, docs, embeddings)
    return cite_picked(pick_sentences(question, ranked, max_sentences))


def cite_sentence(sentence: str, n: int) -> str:
    """Put ``[n]`` before the sentence's final punctuation, where readers expect it."""
    if sentence and sentence[-1] in ".!?。！？":
        return f"{sentence[:-1]} [{n}]{sentence[-1]}"
    return f"{sentence} [{n}]"


_LEADING_CITATIONS = re.compile(r"^((?:\[\d+\]\s*)+)")


def answer_sentences(answer: str) -> list[str]:
    """Sentences of an answer, each keeping its own citations.

    Citations written after the full stop ("... 1943. [1]") move back onto their sentence.
    """
    sentences: list[str] = []
    for sentence in split_sentences(answer):
        lead = _LEADING_CITATIONS.match(sentence)
        if lead and sentences:
            sentences[-1] += " " + lead.group(1).strip()
            sentence = sentence[lead.end() :].strip()
        if sentence:
            sentences.append(sentence)
    return sentences


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def sentence_supported(sentence: str, docs: list[Doc], min_support: float = 0.8) -> bool:
    """Whether one answer sentence is supported by the documents it cites.

    It must cite, cite only existing document numbers, have at least ``min_support`` of its
    content terms in the cited documents, and every number it states must occur there too (a
    wrong year or count is the claim, however many other words match). A sentence with no
    content terms (punctuation, a bare marker) needs no support.
    """
    claim = strip_citations(sentence)
    if not tokenize(claim):
        return True
    numbers = cited_numbers(sentence)
    if not numbers or any(not 1 <= n <= len(docs) for n in numbers):
        return False
    cited = " ".join(docs[n - 1]["content"] for n in numbers)
    if lexical_coverage(claim, cited) < min_support:
        return False
    stated = set(_NUMBER.findall(claim))
    return stated <= set(_NUMBER.findall(cited))


@dataclass(frozen=True)
class Verification:
    """Result of checking an answer sentence by sentence."""

    grounded: bool
    useful: bool
    unsupported: list[str]
    reason: str


def verify_answer(
    question: str, answer: str, docs: list[Doc], min_support: float = 0.8
) -> Verification:
    """Check each sentence of ``answer`` against the documents it cites.

    Each sentence must be :func:`sentence_supported`. The answer is useful when it shares
    content terms with the question.
    """
    unsupported: list[str] = []
    forged: set[int] = set()
    for sentence in answer_sentences(answer):
        forged.update(n for n in cited_numbers(sentence) if not 1 <= n <= len(docs))
        if not sentence_supported(sentence, docs, min_support):
            unsupported.append(strip_citations(sentence))
    useful = lexical_coverage(question, strip_citations(answer)) > 0.0
    if forged:
        reason = f"cites {', '.join(f'[{n}]' for n in sorted(forged))}, not among the documents"
    elif unsupported:
        reason = f"{len(unsupported)} sentence(s) not supported by the cited documents"
    else:
        reason = "every sentence is supported by the document it cites"
    if not useful:
        reason += "; the answer does not address the question's terms"
    return Verification(not unsupported, useful, unsupported, reason)


@lru_cache(maxsize=100_000)
def _first_term(word: str) -> str | None:
    """The first content term of one word (cached: a document repeats its words)."""
    return next(iter(tokenize(word)), None)


def feedback_query(query: str, docs: list[Doc], max_terms: int = 4) -> str:
    """Pseudo-relevance feedback: ``query`` plus the most telling terms of the top documents.

    Terms are ranked by how many of the top three documents contain them, then by length
    (:func:`term_weight`); terms already in the query are skipped.
    """
    seen = set(tokenize(query))
    counts: Counter[str] = Counter()
    words: dict[str, str] = {}
    for doc in docs[:3]:
        in_doc: set[str] = set()
        for word in re.findall(r"\w+", doc["content"]):
            term = _first_term(word)
            if term and term not in seen and not term.isdigit():
                in_doc.add(term)
                words.setdefault(term, word)
        counts.update(in_doc)
    ranked = sorted(counts, key=lambda t: (-counts[t], -term_weight(t), t))
    extra = [words[t] for t in ranked[:max_terms]]
    return f"{query} {' '.join(extra)}".strip()
