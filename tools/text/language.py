"""LLM-free language detection and the small text utilities the offline mode relies on.

Detection runs on every request, so it must be cheap and need no network: a script check settles
Hangul, kana, Han, Cyrillic and the like at once, and ``py3langid`` (its model ships in the wheel)
decides among Latin-script languages.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

LANGUAGE_NAMES = {
    "en": "English",
    "ko": "Korean",
    "ja": "Japanese",
    "zh": "Chinese",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "ru": "Russian",
    "ar": "Arabic",
    "hi": "Hindi",
    "th": "Thai",
    "vi": "Vietnamese",
    "nl": "Dutch",
    "tr": "Turkish",
    "pl": "Polish",
    "el": "Greek",
    "he": "Hebrew",
    "id": "Indonesian",
}

# "The information is insufficient to answer", in the languages we name; English otherwise.
INSUFFICIENT = {
    "en": "I don't have enough information to answer that.",
    "ko": "정보가 부족하여 답변할 수 없습니다.",
    "ja": "情報が不足しているため回答できません。",
    "zh": "信息不足，无法回答。",
    "de": "Die Informationen reichen nicht aus, um die Frage zu beantworten.",
    "fr": "Les informations sont insuffisantes pour répondre.",
    "es": "No hay información suficiente para responder.",
}

# Unicode script prefixes (from unicodedata names) that identify a language on their own.
_SCRIPT_LANG = (
    ("HANGUL", "ko"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("CJK", "zh"),
    ("THAI", "th"),
    ("HEBREW", "he"),
    ("ARABIC", "ar"),
    ("DEVANAGARI", "hi"),
    ("GREEK", "el"),
    ("CYRILLIC", "ru"),
)


def language_name(code: str) -> str:
    """Human name of an ISO 639-1 code, or the code itself when we do not know it."""
    return LANGUAGE_NAMES.get(code, code)


def insufficient_message(code: str) -> str:
    """The "not enough information" sentence in the user's language (English fallback)."""
    return INSUFFICIENT.get(code, INSUFFICIENT["en"])


def _script_vote(text: str) -> str | None:
    counts: dict[str, int] = {}
    letters = 0
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        name = unicodedata.name(ch, "")
        for prefix, lang in _SCRIPT_LANG:
            if name.startswith(prefix):
                counts[lang] = counts.get(lang, 0) + 1
                break
    if not letters or not counts:
        return None
    # Japanese text mixes kana with Han characters; any kana means Japanese.
    if counts.get("ja"):
        return "ja"
    lang, n = max(counts.items(), key=lambda kv: kv[1])
    return lang if n / letters >= 0.3 else None


_LOAD_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _load_identifier():
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def _identifier():
    """py3langid's model, loaded once. The lock matters: ``lru_cache`` does not stop threads
    from computing the same value together, and a server's first burst of requests each
    decompressed the model at once (8 concurrent first questions took 11.7 s, not 0.9 s).
    """  # noqa: D205
    with _LOAD_LOCK:
        return _load_identifier()


def load_language_model() -> None:
    """Load the language identifier now (a server's warm-up), not on the first question."""
    _identifier()


def preload_identifier() -> None:
    """Load the ``py3langid`` model in a background thread (~1 s: an xz-compressed file).

    Ingestion starts this before it loads and chunks files, which release the GIL for most of
    their work, so the first :func:`detect_language` finds the model ready.
    """
    threading.Thread(target=_identifier, name="arag-langid-load", daemon=True).start()


def detect_language(text: str, default: str = "en", min_probability: float = 0.6) -> str:
    """Return the ISO 639-1 code of ``text``'s language without calling an LLM.

    Scripts that identify a language (Hangul, kana, Cyrillic, ...) decide at once. Latin-script
    text goes to ``py3langid``; when it is short or the normalised probability is below
    ``min_probability`` the answer is ``default`` (usually the corpus language), because misreading
    a short English question as another language would cost a needless translation call.
    """
    text = text.strip()
    if not text:
        return default
    script = _script_vote(text)
    if script:
        return script
    if len(re.findall(r"\w+", text)) < 3:
        return default
    short = len(text) <= CACHED_TEXT_CHARS
    lang, prob = _classify(text) if short else _identifier().classify(text)
    return lang if prob >= min_probability else default


# One turn asks about its question three or four times (routing, translation, the probe query,
# the answer's language), at ~0.2 ms of numpy each, and the answer never changes. Long texts
# (ingestion's samples) are not kept.
CACHED_TEXT_CHARS = 2_000


@lru_cache(maxsize=1024)
def _classify(text: str) -> tuple[str, float]:
    return _identifier().classify(text)


def needs_translation(question: str, corpus_language: str) -> bool:
    """Whether ``question`` is in another language than the corpus (detected without an LLM)."""
    return detect_language(question, default=corpus_language) != corpus_language


def translation_doubt(question: str, translation: str, corpus_language: str) -> str:
    """Why ``translation`` of ``question`` into ``corpus_language`` looks wrong ("" if it does not).

    Empty, an echo of the question, or not detected as the corpus language: a small model's
    usual failures. No LLM is asked; the graph then also searches the question as written.
    """
    if not translation.strip():
        return "the translation is empty"
    if translation.strip().casefold() == question.strip().casefold():
        return "the translation repeats the question"
    detected = detect_language(translation, default=corpus_language)
    if detected != corpus_language:
        return (
            f"the translation reads as {language_name(detected)}, not "
            f"{language_name(corpus_language)}"
        )
    return ""
