"""What kind of answer a question asks for, and whether a sentence offers one.

A "when" question is answered by a sentence with a date in it, a "how many" question by one
with a number, a "who" question by one that names someone: the sentence must offer a candidate
of the expected kind that the question does not already contain ("When did X happen, prior to
2000?" is not answered by the sentence about 2000). :func:`question_kind` reads the kind from
the question's wording (English, and the common Korean question words); :func:`offers_answer`
tests a sentence for it. Both are cheap regular expressions: they run on every candidate
sentence of every offline answer.
"""

from __future__ import annotations

import re
from typing import Literal

from tools.index.scoring import term_set

QuestionKind = Literal[
    "when", "quantity", "who", "where", "why", "definition", "yesno", "how", "other"
]

_UNITS_OF_TIME = r"(years?|dates?|days?|months?|century|centuries|decades?|era|period|time)"
_PLACES = (
    r"(city|cities|country|countries|state|place|region|location|town|continent|area|province"
    r"|county|island|river|mountain|building|venue|street|site|port|capital)"
)
QUANTITY_NOUNS = (
    r"(percentage|percent|proportion|share|number|amount|size|population|distance|length|speed"
    r"|temperature|rate|cost|price|total|count|height|weight|age|value|limit|maximum|minimum"
    r"|capacity)"
)
_KIND_PATTERNS: tuple[tuple[QuestionKind, re.Pattern[str]], ...] = (
    (
        "when",
        re.compile(
            rf"\bwhen\b|\b(what|which)\s+(\w+\s+){{0,2}}{_UNITS_OF_TIME}\b|\bhow long ago\b"
            r"|언제|몇\s*년|몇\s*월|연도|날짜|세기",
        ),
    ),
    (
        "quantity",
        re.compile(
            r"\bhow\s+(many|much|long|far|old|large|big|tall|high|deep|wide|fast|often|heavy)\b"
            rf"|\b(what|which)\s+(\w+\s+){{0,2}}{QUANTITY_NOUNS}\b|몇|얼마",
        ),
    ),
    ("who", re.compile(r"\bwho(m|se)?\b|누구|누가")),
    (
        "where",
        re.compile(rf"\bwhere\b|\b(what|which)\s+(\w+\s+)?{_PLACES}\b|어디|어느\s*(나라|도시)"),
    ),
    (
        "why",
        re.compile(
            r"\bwhy\b|\bfor what reason\b|\bwhat\s+(is|was|were)\s+the\s+reasons?\b|왜|이유"
        ),
    ),
    (
        "definition",
        re.compile(
            r"^(what|who)\s+(is|are|was|were)\s+(an?\s+|the\s+)?[\w'-]+(\s+[\w'-]+){0,2}\s*\??$"
            r"|^define\b|\bwhat does\s+.+\s+mean\b|^what (kind|type|sort) of\b"
            r"|무엇인가|뭐야|란\s*무엇"
        ),
    ),
    (
        "yesno",
        re.compile(
            r"^(does|do|did|is|are|was|were|can|could|will|would|should|shall|has|have|had"
            r"|must|may)\b"
        ),
    ),
    ("how", re.compile(r"^how\b|어떻게")),
)


def question_kind(question: str) -> QuestionKind:
    """The kind of answer ``question`` asks for; ``"other"`` when its wording does not say.

    The first match in this order wins: when (when, what year, in which century, 언제), quantity
    (how many / much / far / long, what percentage, 몇, 얼마), who, where (where, which city), why,
    definition ("What is X?", "define X", "what kind of"), yes/no ("Does X support Y?"), how
    (manner), other (what / which and the rest).
    """
    text = " ".join(question.lower().split())
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(text):
            return kind
    return "other"


_MONTHS = (
    "january february march april may june july august september october november december"
).split()
# Not inside a version or file name ("yodl-1.31.18-1142.i586.rpm" holds no year).
_YEAR = re.compile(r"(?<![\w.\-/])(1[0-9]{3}|20[0-9]{2})s?\b")
_DATE_WORDS = re.compile(
    r"\b(" + "|".join(_MONTHS) + r")\b|\b\d{1,2}(st|nd|rd|th)\s+century\b|\bcentur(y|ies)\b"
    r"|\b(\d{1,2}(st|nd|rd|th)|first|second|third|fourth|fifth)\s+(millennium|dynasty)\b"
    r"|\b(bc|bce|ad|ce)\b|\b(decades?|weeks?|days?|months?|years?)\s+(later|earlier|after|before|ago)\b"
    r"|\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b"
    r"|\b(daily|weekly|monthly|yearly|annually|nightly|hourly)\b|\bevery\s+(day|week|month|year)\b"
    r"|\b(spring|summer|autumn|winter)\b|\b\d{1,2}(:\d{2})?\s*(am|pm|a\.m\.|p\.m\.)"
    r"|\b(today|yesterday|tomorrow|tonight|noon|midnight|morning|evening)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d[\d,.]*")
_NUMBER_WORDS = frozenset(
    """
    two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
    hundred hundreds thousand thousands million millions billion billions trillion dozen
    dozens half twice thrice double triple quarter percent
    """.split()
)
_REASON = re.compile(
    r"\b(because|due to|owing to|thanks to|as a result|in order to|so that|so as to|since"
    r"|led to|leads to|caused|causes|therefore|thus|hence|reason|reasons|result of|aimed at"
    r"|in response to|to allow|to prevent|to avoid|to protect|to ensure|to reduce)\b",
    re.IGNORECASE,
)
_PLACE_CUE = re.compile(
    r"\b(in|at|near|from|to|into|across|throughout|outside|inside|between|north|south|east|west"
    r"|of)\s+(the\s+)?[A-Z]"
)
_CAPITALISED = re.compile(r"(?<![\w'’])[A-Z][\w'’.-]*")
# "X is a ...", "X, the ..., is an ...": a definition near the start of the sentence.
_DEFINES = re.compile(
    r"^[^.;:]{0,80}?\b(is|are|was|were)\s+(a|an|the|one)\b|\b(refers to|is defined as|means)\b",
    re.IGNORECASE,
)


def _new_names(sentence: str, question_terms: set[str]) -> list[str]:
    """Capitalised words of ``sentence`` (not its first word) that the question does not name."""
    names = []
    for match in _CAPITALISED.finditer(sentence):
        if match.start() == 0:
            continue  # every sentence starts with a capital
        word = match.group().rstrip(".")
        terms = term_set(word)
        if terms and not terms & question_terms and word.lower() not in _MONTHS:
            names.append(word)
    return names


def _new_numbers(sentence: str, question: str) -> bool:
    """A number (digits or a number word) in ``sentence`` that ``question`` does not contain."""
    asked = set(_NUMBER.findall(question))
    if any(n.strip(",.") not in asked for n in _NUMBER.findall(sentence)):
        return True
    asked_words = set(question.lower().split())
    words = set(re.findall(r"[a-z]+", sentence.lower()))
    return bool((words & _NUMBER_WORDS) - asked_words)


def offers_answer(kind: QuestionKind, sentence: str, question: str) -> bool:
    """Whether ``sentence`` holds a candidate answer of ``kind`` that ``question`` lacks.

    when: a year or date expression (a month, a century, "BC") not in the question; quantity:
    a number or number word not in the question; who: a capitalised name the question does not
    name; where: a capitalised name after a place preposition ("in", "near", "north of"), or
    any new name; why: a reason phrase ("because", "due to", "in order to"); definition: the
    sentence defines something ("X is a ...", "refers to"). For yes/no, how and other, any new
    name or number counts.
    """
    q_terms = term_set(question)
    if kind == "when":
        asked = set(_YEAR.findall(question))
        return any(y not in asked for y in _YEAR.findall(sentence)) or bool(
            _DATE_WORDS.search(sentence) and not _DATE_WORDS.search(question)
        )
    if kind == "quantity":
        return _new_numbers(sentence, question)
    if kind == "who":
        return bool(_new_names(sentence, q_terms))
    if kind == "where":
        return bool(_PLACE_CUE.search(sentence)) and bool(_new_names(sentence, q_terms))
    if kind == "why":
        return bool(_REASON.search(sentence))
    if kind == "definition":
        return bool(_DEFINES.search(sentence))
    return bool(_new_names(sentence, q_terms)) or _new_numbers(sentence, question)


# Lenient forms, for telling whether a quote could answer at all (not which sentence is best).
_STANDALONE_NUMBER = re.compile(r"(?<![\w.\-/])\d[\d,]*(?![\w\-/]|\.\d)")
_ORDINAL = re.compile(
    r"\b(\d+(st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth"
    r"|eleventh|twelfth|(thir|four|fif|six|seven|eigh|nine)teenth|twentieth)\b",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_SOME_NUMBER = re.compile(r"\b(many|several|few|numerous|dozens|hundreds|thousands)\b", re.I)


def states_date(text: str) -> bool:
    """Whether ``text`` states any date or time at all.

    A year or an ISO date ("2022-04-07"), a number that is no version or file name ("13,000
    BP", not "1.31" or "yodl-1.31.18-1142"), a date word or an ordinal ("the nineteenth").
    """
    return any(
        pattern.search(text)
        for pattern in (_STANDALONE_NUMBER, _YEAR, _ISO_DATE, _DATE_WORDS, _ORDINAL)
    )


def states_number(text: str) -> bool:
    """Whether ``text`` states any number or amount at all.

    Digits that are no version or file name, a number word ("six", "a dozen") or a vague
    amount ("many", "several").
    """
    if _STANDALONE_NUMBER.search(text) or _SOME_NUMBER.search(text):
        return True
    return bool(set(re.findall(r"[a-z]+", text.lower())) & _NUMBER_WORDS)


_FRAME = re.compile(
    rf"\b(what|which|how)\s+(\w+\s+){{0,2}}?({_UNITS_OF_TIME}|{QUANTITY_NOUNS})\b", re.IGNORECASE
)


def frame_terms(question: str) -> set[str]:
    """Terms that only name the kind of answer asked for: "year" in "What year did Tesla die?".

    A sentence is not a better answer for repeating them ("In the years after these rumors").
    """
    return {t for m in _FRAME.finditer(question) for t in term_set(m.group(3))}


_PLAIN_OPENINGS: tuple[tuple[QuestionKind, re.Pattern[str]], ...] = (
    (
        "when",
        re.compile(
            r"^(when\s+(did|was|were|is|are|does|do|will|would|has|have|had|can|could)\b"
            r"|(in|on|by|during|from|since)?\s*(what|which)\s+(\w+\s+){0,2}"
            r"(year|date|day|month|century|decade)s?\b)"
        ),
    ),
    (
        "quantity",
        re.compile(rf"^(how\s+(many|much)\b|(what|which)\s+(\w+\s+){{0,2}}{QUANTITY_NOUNS}\b)"),
    ),
)


def plain_kind(question: str) -> QuestionKind | None:
    """``"when"`` or ``"quantity"`` for an English question that opens by asking for a date or an
    amount ("When did ...", "In which year ...", "How many ...", "Which hash table size ..."),
    else None: stricter than :func:`question_kind`, where "when" anywhere counts ("Which
    platform is affected when ...?", "When many people are arrested, what ...?").
    """  # noqa: D205
    text = " ".join(question.lower().split())
    return next((kind for kind, opening in _PLAIN_OPENINGS if opening.match(text)), None)
