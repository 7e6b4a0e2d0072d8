"""Which of the supported languages (en, es, fr, ar) a chat text is written in.

Small and predictable on purpose: Arabic by script; English, Spanish and French by
their most frequent short words (and ¿ ¡ for Spanish). It answers only when the evidence
is clear and says None otherwise (a formula, "ok", a name), so callers fall back to the
learner's profile language. Used twice: to answer a student in the language they wrote
in, and to withhold a model reply written in another language (small models drift into
English).
"""

import re
import unicodedata

from tutor.numberwords import normalize


def _fold(word: str) -> str:
    """Case folded, without accents: students often type "como" for "cómo"."""
    return normalize(word)


def _wordset(text: str) -> frozenset[str]:
    return frozenset(_fold(word) for word in text.split())


# Frequent short words per language, as written (accents kept).
_WORDS = {
    "en": _wordset(
        "an and answer are calculate can did do does don't explain find first for get good "
        "have hello help hi how i i'm is it it's let's me my next not of please right should "
        "simplify solve step thanks that the this to try understand was we what what's when "
        "where which why with would wrong you your"
    ),
    "es": _wordset(
        "ayuda ayúdame bien calcula con cuando cuál cómo del dónde ejercicio el entiendo es "
        "eso esto está explica explícame gracias hacer hay hola las lo los mi muy número para "
        "paso pero por porque primero puedes puedo qué respuesta resuelve simplifica son "
        "sumar sé sí también tengo tu tus tú una vamos y yo"
    ),
    "fr": _wordset(
        "aide allons aussi avec bien bonjour c'est calcule cela comment comprends d'abord "
        "dans des du est et exercice explique explique-moi faire il j'ai je le les mais merci "
        "mon nombre nous où parce pas peux pour pourquoi puis quand quoi réponse résous sais "
        "simplifie sont tes ton très une vous ça étape"
    ),
}
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


def detect(text: str, *, min_evidence: int = 2) -> str | None:
    """The language of `text` among en, es, fr, ar, or None when unclear.

    Arabic when at least 60% of its letters are Arabic. Otherwise the language whose
    frequent words occur at least `min_evidence` times and at least twice as often as
    any other's (¿ and ¡ count for Spanish)."""
    text = unicodedata.normalize("NFC", text.replace("\u2019", "'"))
    arabic = len(_ARABIC.findall(text))
    latin = len(_LATIN.findall(text))
    if arabic and arabic >= 0.6 * (arabic + latin):
        return "ar"
    tokens = [_fold(t) for t in _TOKEN.findall(text)]
    scores = {code: sum(t in words for t in tokens) for code, words in _WORDS.items()}
    scores["es"] += text.count("¿") + text.count("¡")
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_second, runner_up) = ranked[0], ranked[1]
    if top >= min_evidence and top >= 2 * runner_up:
        return best
    return None


class ReplyLanguageCheck:
    """A guard (same interface as tutor.guard.LeakGuard: `.check(text)`) that withholds a
    reply clearly written in another language than `language`."""

    def __init__(self, language: str) -> None:
        self.language = language.split("-")[0]

    def check(self, text: str) -> str | None:
        found = detect(text, min_evidence=3)
        if found is not None and found != self.language:
            return f"language:{found}"
        return None
