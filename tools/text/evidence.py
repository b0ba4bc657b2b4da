"""Which sentences of the retrieved documents answer the question: the offline answer's ranking.

A sentence that repeats the question's words is not yet an answer. Each candidate is scored on

* **matching**: the weighted share of the question's content terms it contains (longer terms
  and terms found in few of the candidate sentences weigh more), read in the sentence itself
  and, for a smaller share, in its context (the previous sentence and the document title, so
  that "He also won it in 1946." is matched to the person named just before it);
* **phrases**: the share of the question's adjacent term pairs that the sentence repeats;
* **meaning**: the embedding cosine between question and sentence;
* **document**: the retrieval score of the sentence's document (the best-ranked passage
  usually holds the answer);
* **answer kind**: whether it offers what the question asks for (a date for "when", a number
  for "how many", a name for "who", see :mod:`tools.text.question_type`);
* **news**: whether it says anything the question does not (an echo of the question is not an
  answer, except to a yes/no question: "There is no support for bit fields." answers "Does
  libffi support bit fields?").

The weights are round values checked on XQuAD-en and HotpotQA (see
``benchmarks/results/answers.md``), not fitted to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tools.index.scoring import (
    lexical_coverage,
    spaceless_share,
    term_set,
    term_weight,
    tokenize,
)
from tools.text.question_type import (
    frame_terms,
    offers_answer,
    plain_kind,
    question_kind,
    states_date,
    states_number,
)

LEXICAL_WEIGHT = 0.7
"""Share of the matching score in the base score (the rest is the embedding cosine)."""
CONTEXT_SHARE = 0.3
"""Share of the matching read in the sentence's context rather than in the sentence alone."""
PHRASE_WEIGHT = 0.1
"""Added score for a sentence repeating every adjacent term pair of the question."""
DOC_WEIGHT = 0.2
"""Added score for a sentence of the best-scored document (less for the others, in proportion)."""
KIND_BONUS = 0.25
"""Relative boost of a sentence that offers the kind of answer asked for."""
ECHO_FACTOR = 0.5
"""Score factor of a sentence that adds fewer than :data:`MIN_NEW_TERMS` terms to the question."""
MIN_NEW_TERMS = 2


@dataclass(frozen=True)
class Sentence:
    """One candidate: the document number (1-based), the sentence and what surrounds it."""

    n: int
    text: str
    context: str = ""
    """The previous sentence of the same document and the document's title."""
    doc_score: float = 0.0
    """The retrieval score of the sentence's document (calibrated, in [0, 1])."""


def _weights(q_terms: set[str], candidates: Sequence[set[str]]) -> dict[str, float]:
    """Question-term weights: :func:`term_weight` times the term's rarity among the candidates."""
    total = len(candidates)
    weights = {}
    for term in q_terms:
        found_in = sum(term in c for c in candidates)
        weights[term] = term_weight(term) * (1.0 + math.log((total + 1) / (found_in + 1)))
    return weights


def _coverage(weights: dict[str, float], terms: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0


def _pairs(terms: Sequence[str]) -> set[tuple[str, str]]:
    return set(zip(terms, terms[1:], strict=False))


def score_sentences(
    question: str, sentences: Sequence[Sentence], dense: Sequence[float] | None = None
) -> np.ndarray:
    """One score per sentence (higher is a better answer), as the module docstring describes.

    ``dense`` holds the question-sentence cosines, or None without embeddings.
    """
    if not sentences:
        return np.zeros(0)
    q_terms = set(tokenize(question)) - frame_terms(question)
    q_pairs = _pairs(tokenize(question))
    kind = question_kind(question)
    own = [term_set(s.text) for s in sentences]
    weights = _weights(q_terms, own)
    cosines = np.clip(np.asarray(dense if dense is not None else [0.0] * len(sentences)), 0, 1)
    best_doc = max(s.doc_score for s in sentences) or 1.0
    scores = np.zeros(len(sentences))
    for i, sentence in enumerate(sentences):
        around = own[i] | term_set(sentence.context)
        matching = (1 - CONTEXT_SHARE) * _coverage(weights, own[i]) + CONTEXT_SHARE * _coverage(
            weights, around
        )
        score = LEXICAL_WEIGHT * matching + (1 - LEXICAL_WEIGHT) * float(cosines[i])
        if q_pairs:
            score += PHRASE_WEIGHT * len(q_pairs & _pairs(tokenize(sentence.text))) / len(q_pairs)
        score += DOC_WEIGHT * sentence.doc_score / best_doc
        if offers_answer(kind, sentence.text, question):
            score *= 1 + KIND_BONUS
        if len(own[i] - q_terms) < MIN_NEW_TERMS and kind != "yesno":
            score *= ECHO_FACTOR  # a yes/no question is answered by its statement, or its denial
        scores[i] = score
    return scores


def _spaceless(term: str) -> bool:
    """A character-bigram term (CJK, kana, Hangul, Thai), as :func:`tokenize` makes them."""
    return spaceless_share(term) > 0.5


def answer_coverage(
    query: str, picked: Sequence[Sentence], *, cross_script: bool = False
) -> float | None:
    """Weighted share of ``query``'s content terms held by the quoted sentences and their context.

    The abstention signal of the offline answer: a near miss (a question on the corpus's
    topic whose answer the corpus lacks) retrieves documents that match well, but no sentence
    of them carries what it asks ("Which version added AES-GCM?" against a README that never
    names AES-GCM). Terms weigh as in :func:`tools.index.scoring.lexical_coverage`.

    ``cross_script``: the query is written in a script the corpus does not use (a Korean
    question searched untranslated over English documents), so only its terms in other
    scripts (names, numbers, Latin words) can match; None when it has none (nothing to judge).
    """
    terms = tokenize(query)
    if cross_script:
        terms = [t for t in terms if not _spaceless(t)]
        if not terms:
            return None
    return lexical_coverage(terms, " ".join(f"{s.text} {s.context}" for s in picked))


_NEEDED = {"when": "a date", "quantity": "a number"}


def missing_kind(query: str, picked: Sequence[Sentence]) -> str | None:
    """What ``query`` asks for that no quoted sentence states at all ("a date"), or None.

    Only for English questions that open by asking for a date ("When did ...", "In which year
    ...") or an amount ("How many ...", "Which hash table size ...",
    :func:`tools.text.question_type.plain_kind`): their answer is one, and
    a quote without any ("In which year was socat first released?" against "the old version
    1.31 is used") is a near miss, not an answer. The test is lenient
    (:func:`tools.text.question_type.states_date`, ``states_number``): any date, ordinal or
    number that is no version or file name will do. "When" elsewhere is a conjunction
    ("Which platform is affected when ...?", "When many people are arrested, what ...?"), and
    other kinds are too loose to judge this way.
    """
    kind = plain_kind(query)
    if kind is None:
        return None
    states = states_date if kind == "when" else states_number
    return None if any(states(s.text) for s in picked) else _NEEDED[kind]


def unmatched_numbers(query: str, picked: Sequence[Sentence]) -> list[str]:
    """The numbers the question names, when neither the quote nor its context mentions any.

    A number in a question names the very thing asked about (a version, a year, "HTTP/2"); a
    quote that mentions none of them is about something else: "Does httplib2 support HTTP/2?"
    is not answered by "httplib2 supports many features left out of other HTTP libraries".
    One of several is enough: "Which actor, who also appeared in "The Usual Suspects" (1995),
    does the 2017 comedy Baby Driver star?" is answered by a sentence about the 2017 film.
    """
    asked = [t for t in dict.fromkeys(tokenize(query)) if t.isdigit()]
    if not asked:
        return []
    held = set().union(*(term_set(f"{s.text} {s.context}") for s in picked))
    return [] if held.intersection(asked) else asked


def decline_reason(query: str, picked: Sequence[Sentence], *, cross_script: bool) -> str | None:
    """Why the quote answers no part of ``query``, whatever the thresholds; None if it may.

    :func:`missing_kind` (not for a question in a script the corpus does not use: its
    wording is not read) and :func:`unmatched_numbers`.
    """
    missing = None if cross_script else missing_kind(query, picked)
    if missing:
        return f"the question asks for {missing}; no quoted sentence gives one"
    unmatched = unmatched_numbers(query, picked)
    if unmatched:
        return f"the question names {', '.join(unmatched)}; no quoted sentence mentions it"
    return None
