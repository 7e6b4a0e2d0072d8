"""Screening of chat messages, on the way in (the student's) and out (the model's).

The approach is deliberately simple and predictable: word lists and patterns, per
supported language (en, es, fr, ar), matched on a normalised copy of the text (case
folded, accents removed, Arabic letter variants and diacritics unified). No model is
asked: a small model would miss more than the lists do, and a teacher has to be able to
read why something was flagged. Each list is a tuple of regular expressions, tested in
tests/tutor/test_safety.py; extending a list is a one-line change with a test.

Three categories:

* ``self_harm``: the student speaks of hurting or killing themselves. The tutor does not
  answer with the model; it answers with a fixed message pointing to a trusted adult,
  and the class teacher is alerted.
* ``abuse``: insults and threats, or a student saying someone hurts them. Flagged for the
  teacher; the conversation goes on.
* ``personal_data``: phone numbers, e-mail addresses, street addresses. Masked before the
  text is stored or sent to the model (the student sees the masked message), flagged.

What this does not catch: misspellings beyond the listed variants, languages other than
the four, and meaning without the listed words. It flags for a human to read; it decides
nothing a teacher cannot see and undo.
"""

import re
from dataclasses import dataclass

from tutor.numberwords import normalize

SELF_HARM = "self_harm"
ABUSE = "abuse"
PERSONAL_DATA = "personal_data"
CATEGORIES = (SELF_HARM, ABUSE, PERSONAL_DATA)

MASK = "[…]"

# Patterns match the normalised text (see _normalise): lower case, no accents, Arabic
# without diacritics and with one form of alef, yeh and teh marbuta. \b is Unicode-aware.
_SELF_HARM = (
    # English
    r"\bkill(ing)? my ?self\b",
    r"\bsuicid",
    r"\b(want|wanna|going|gonna) (to )?die\b",
    r"\bend (it all|my life)\b",
    r"\b(hurt|cut|harm)(ing)? my ?self\b",
    r"\bself[- ]?harm",
    r"\bdon'?t want to (live|be alive)\b",
    # Spanish
    r"\bmatarme\b",
    r"\bme quiero morir\b",
    r"\bquiero morir(me)?\b",
    r"\bquitarme la vida\b",
    r"\b(hacerme|me hago) dano\b",
    r"\bcortarme\b",
    r"\bno quiero vivir\b",
    # French
    r"\bme (tuer|suicider)\b",
    r"\b(veux|envie de) mourir\b",
    r"\ben finir avec la vie\b",
    r"\bme faire du mal\b",
    r"\bme scarifier\b",
    r"\bne veux plus vivre\b",
    # Arabic
    r"انتحار",
    r"انتحر",
    r"اقتل نفسي",
    r"قتل نفسي",
    r"اريد ان اموت",
    r"اؤذي نفسي",
    r"ايذاء نفسي",
)

_ABUSE = (
    # Insults and threats
    r"\b(fuck|fucking|shit|bitch|bastard|asshole|cunt|retard)\w*",
    r"\bi('ll| will) (kill|hurt|beat) you\b",
    r"\b(puta|puto|mierda|cabron|gilipollas|pendejo|imbecil)\w*",
    r"\bte voy a (matar|pegar)\b",
    r"\b(merde|putain|connard|connasse|salope|encule)\w*",
    r"\bje vais te (tuer|frapper)\b",
    r"\b(كلب|حقير|غبي|لعنة)\b",
    r"سوف اقتلك",
    # A student saying someone hurts them
    r"\b(he|she|they|my \w+) (hits|beats|hurts|touches) me\b",
    r"\b(me pega|me pegan|me golpea|me toca)\b",
    r"\b(il|elle|ils) me (frappe|frappent|bat|battent|touche)\b",
    r"يضربني",
    r"يؤذيني",
)

_COMPILED = {
    SELF_HARM: re.compile("|".join(f"(?:{p})" for p in _SELF_HARM)),
    ABUSE: re.compile("|".join(f"(?:{p})" for p in _ABUSE)),
}

# Personal data, matched on the original text so that masking keeps everything else.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number: "+" or "00" and then digits in groups separated by spaces, dots,
# dashes or brackets; a leading "0" and groups ("06 12 34 56 78"); or the US shape
# "(555) 123-4567". 8 to 15 digits in all (checked in _mask_phones). Plain long numbers
# (123456789), lists of numbers (1990 2000 2010) and arithmetic (3 + 4 = 7) do not match.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)\d[\d\s().-]{6,20}\d(?!\w)"
    r"|(?<![\w+])0\d{1,4}(?:[\s.-]\d{2,4}){3,6}(?!\w)"
    r"|(?<![\w+])\(?\d{3}\)?[\s.-]?\d{3}[.-]\d{4}(?!\w)"
)
# With a word that says "phone" nearby, any run of 8-15 digits counts ("612 345 678").
_PHONE_WORDS = re.compile(
    r"\b(phone|call me|text me|whatsapp|mobile|cell|numero|telefono|movil|llamame|"
    r"telephone|portable|appelle|هاتف|رقمي|جوال|موبايل|اتصل)",
)
_DIGIT_RUN = re.compile(r"(?<![\w.,])\d[\d\s.-]{6,20}\d(?![\w,]|\.\d)")
_STREET_WORDS = (
    r"street|st\.|road|rd\.|avenue|ave\.|lane|drive|boulevard|"
    r"calle|c/|avenida|avda\.|plaza|paseo|"
    r"rue|avenue|boulevard|chemin|allee|impasse|"
    r"شارع"
)
# "12 Baker Street", "Calle Mayor 5", "5 rue de la Paix", "شارع النيل 12"
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}\s*(?:bis\s+)?,?\s*(?:{_STREET_WORDS})\s+[\w' -]{{2,40}}"
    rf"|\b(?:{_STREET_WORDS})\s+[\w' -]{{2,40}}?\s*,?\s*(?:n[º°o]\.?\s*)?\d{{1,5}}\b"
    rf"|\b\d{{1,5}}\s+[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?\s+(?:Street|St|Road|Rd|Avenue|Ave|Lane|Drive)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Screening:
    categories: tuple[str, ...]
    # The text with personal data masked (the text itself when there was none).
    masked: str

    @property
    def flagged(self) -> bool:
        return bool(self.categories)

    def __str__(self) -> str:
        return "safety:" + ",".join(self.categories)


def _normalise(text: str) -> str:
    # The guard's normalisation (case, accents, Arabic letter forms and marks, digits),
    # with runs of whitespace made one space.
    return re.sub(r"\s+", " ", normalize(text))


def _mask_phone(match: re.Match) -> str:
    digits = sum(c.isdigit() for c in match.group())
    return MASK if 8 <= digits <= 15 else match.group()


def _mask_personal_data(text: str) -> tuple[str, bool]:
    masked = text
    for pattern in (_EMAIL, _ADDRESS):
        masked = pattern.sub(MASK, masked)
    masked = _PHONE.sub(_mask_phone, masked)
    if _PHONE_WORDS.search(_normalise(text)):
        masked = _DIGIT_RUN.sub(_mask_phone, masked)
    return masked, masked != text


def screen(text: str) -> Screening:
    """The categories `text` falls under, and `text` with personal data masked."""
    normalised = _normalise(text)
    categories = [name for name, pattern in _COMPILED.items() if pattern.search(normalised)]
    masked, had_personal = _mask_personal_data(text)
    if had_personal:
        categories.append(PERSONAL_DATA)
    return Screening(tuple(categories), masked)


class OutgoingCheck:
    """A guard (same interface as tutor.guard.LeakGuard: `.check(text)`) that withholds a
    model reply containing abuse, self-harm talk or personal data."""

    def check(self, text: str) -> Screening | None:
        screening = screen(text)
        return screening if screening.flagged else None
