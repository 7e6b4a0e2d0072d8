# ruff: noqa: RUF001, RUF002 - multilingual text (Arabic letters and digits) by design
"""The answer-leak guard: during an exercise, no tutor reply reaches the student while it
gives away the exercise's answer.

`LeakGuard(snapshot).check(text)` looks in a reply for the answer of the exercise
snapshot (see courses.snapshots, keys per kind in courses.validation) in every form a
model (or a student pushing it) may put it:

* numbers: digits of any script (٠-٩, ۰-۹), decimal point or comma, thousands
  separators (1,234 / 1.234 / 1 234: both readings are tried), fractions (3/4,
  \\frac{3}{4}, "3 over 4"), mixed numbers, percentages (75 % is 0.75 too), numbers in
  words in English, Spanish, French and Arabic (tutor.numberwords: "quince", "trois
  quarts", "خمسة عشر", "zero point seven five"), digits spelled one by one ("one five",
  "1 5") or letter by letter ("f-i-f-t-e-e-n"), and roundings of the answer (0.67 for
  2/3). A value within the key's tolerance counts as the answer, as in the checker;
* expressions: a short math span of the reply that is SymPy-equivalent to the key
  ("2x + 2" for "2(x+1)"), through courses.mathexpr, which parses untrusted text within
  fixed bounds. Spans are whole terms of at most MAX_SPAN_TOKENS tokens, only those with
  exactly the key's variables are compared, and each check has a time and count budget;
* choices: the correct choice by letter ("option B", "(b)", "la B", "الخيار ب"), by
  ordinal ("the second one", "la segunda", "la deuxième", "الخيار الثاني"), or by its
  text or value. Naming the correct choice among others ("compare A and B") is not a
  leak; naming it alone, or endorsing it ("B is correct"), is;
* accepted short-text answers, case and accent insensitive (and their numeric value);
* a long verbatim run of the worked solution or the rubric (SOLUTION_RUN tokens that
  the student-visible texts do not contain).

What is not a leak: the numbers of the exercise's own prompt ("Solve 3x + 7 = 22": 3,
7, 22), numbers unrelated to the answer, a division left to do (15/3, when the answer is
5), coefficients (3x), exponents, list and step numbers, and the words for 0-3 ("the
two sides", "the second one"). When the answer coincides with a given (or is such a
small word) only an explicit statement counts: "x = 5", "the answer is 5", "la
respuesta es cinco", "5 is correct", an equation ending in "= 5" that is not the
prompt's own.

Streaming (`StreamGate`): the reply is released sentence by sentence, each sentence
only after the whole text so far passed the check. Per-sentence release because a
number (and a phrase) arrives split across deltas: "the answer is 1" + "5", "0." +
"75", "three" + " quarters"; what is still being written can always complete an answer,
so it is held back, while a finished sentence cannot be changed by what follows. A
sentence ends at ". ", "! ", "? ", "؟ ", "…", "。" (the terminator followed by
whitespace, so "0.75" never splits) or at a blank line or a line break after such a
terminator; a tail longer than MAX_HOLD characters without one is released up to its
last whitespace before the final HOLD_TAIL characters. The check runs over the whole
text so far (not the new sentence alone), so statements spanning a boundary ("The
answer is:\\n\\n15") are seen too. Once a leak is found the gate releases nothing more;
the caller withholds the reply (tutor.consumers).
"""

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from tutor import numberwords
from tutor.numberwords import normalize

logger = logging.getLogger(__name__)

# Expression checks: spans of at most this many tokens, at most this many SymPy
# comparisons and this much time per check (past either, the reply is withheld).
MAX_SPAN_TOKENS = 25
MAX_EXPRESSION_CHECKS = 60
EXPRESSION_BUDGET_SECONDS = 1.0
EXPRESSION_CACHE_SIZE = 2000
# Worked-solution runs: this many tokens in a row, copied, is a leak.
SOLUTION_RUN = 12
# Stream gate: the most text held back without a sentence end.
MAX_HOLD = 400
HOLD_TAIL = 60


@dataclass(frozen=True)
class Leak:
    """What gave the answer away: `kind` is number, expression, choice, text, solution
    or unchecked (an expression check ran out of budget), `matched` the reply's text
    (normalised) that did."""

    kind: str
    matched: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.matched}"


# --- preparing text -------------------------------------------------------------------

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_LATEX_WRAPPERS = re.compile(
    r"\\(?:text|mathrm|mathbf|mathit|boxed|textbf|operatorname|displaystyle)\s*\{([^{}]*)\}"
)
_LATEX_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_LATEX_SYMBOLS = [
    (re.compile(r"\\(?:cdot|times|ast)(?![a-z])"), "*"),
    (re.compile(r"\\div(?![a-z])"), "/"),
    (re.compile(r"\\(?:left|right|big|bigg|Big|,|;|!|quad|qquad)(?![a-z])"), " "),
    (re.compile(r"\\pi(?![a-z])"), "pi"),
    (re.compile(r"\\(?:approx|simeq)(?![a-z])"), "≈"),
    (re.compile(r"\\%"), "%"),
    (re.compile(r"\\(?:sin|cos|tan|ln|log|exp)(?![a-z])"), lambda m: m.group(0)[1:]),
]
_LATEX_OTHER = re.compile(r"\\[a-zA-Z]+|\\[()\[\]]|\$")
_MARKDOWN = re.compile(r"\*\*|__|`+|~~")
_SPACES = re.compile(r"[^\S\n]+")


def _superscripts(match: re.Match) -> str:
    return "^(" + match.group(0).translate(_SUPERSCRIPTS) + ")"


def prepare(text: str, *, fold_case: bool = True) -> str:
    """`text` as the guard reads it: LaTeX and Markdown reduced to plain math
    (\\frac{3}{4} → 3/4, \\cdot → *, x² → x^(2)), then `numberwords.normalize`d."""
    text = _SUPERSCRIPT_RUN.sub(_superscripts, text)
    text = normalize(text, fold_case=fold_case)
    for _round in range(3):  # nested fractions
        text = _LATEX_FRAC.sub(_latex_fraction, text)
    text = _LATEX_WRAPPERS.sub(r"\1", text)
    text = _LATEX_SQRT.sub(r"sqrt(\1)", text)
    for pattern, replacement in _LATEX_SYMBOLS:
        text = pattern.sub(replacement, text)
    text = _LATEX_OTHER.sub(" ", text)
    text = text.replace("^{", "^(").replace("{", "(").replace("}", ")")
    text = text.replace("÷", "/").replace("×", "*").replace("·", "*")
    text = _MARKDOWN.sub("", text)
    return _SPACES.sub(" ", text)


def _latex_fraction(match: re.Match) -> str:
    top, bottom = match.group(1).strip(), match.group(2).strip()
    simple = re.compile(r"[\w.]+")
    top = top if simple.fullmatch(top) else f"({top})"
    bottom = bottom if simple.fullmatch(bottom) else f"({bottom})"
    return f"{top}/{bottom}"


def _compact(text: str) -> str:
    """Math without spaces or explicit multiplication, to compare forms."""
    return re.sub(r"[\s*]", "", text)


# --- numbers in a text ------------------------------------------------------------------

# A leading point without a whole part (".75", ",75") counts after a space, "=" or "(".
_BLOB = re.compile(r"(?:(?:(?<=[\s=(:])|^)[.,](?=\d))?\d+(?:(?:[.,']| (?=\d{3}(?!\d)))\d+)*")
_FRACTION_BAR = re.compile(r"\s*(?:/|over|sobre|sur|على)\s*")
_PERCENT = re.compile(
    r"\s*(?:%|percent\b|per cent\b|por ciento\b|pour ?cent\b|بالمئه|بالمائه|في المئه|في المائه)"
)
_STEP_WORDS = re.compile(
    r"(?:step|paso|etape|etapa|الخطوه|question|pregunta|exercise|ejercicio|exercice|page|"
    r"pagina|line|linea|ligne|chapter|lesson|leccion|lecon)\s*#?\s*$"
)
_SIGN_CONTEXT = re.compile(r"(?:^|[\s(=:,\[])-$")


@dataclass(frozen=True)
class Mention:
    """A number in `source` (prepared text) at [start, end) that may mean any of
    `values`. `decimals`/`significant` describe a written decimal (for roundings)."""

    source: str
    start: int
    end: int
    values: frozenset[Fraction]
    weak: bool = False
    decimals: int = 0
    significant: int = 0

    @property
    def text(self) -> str:
        return self.source[self.start : self.end]


def _decimal(text: str) -> Fraction | None:
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or abs(number.adjusted()) > 30:
        return None
    return Fraction(number)


def _blob_readings(blob: str) -> list[tuple[Fraction, int, int]]:
    """(value, decimals, significant digits) for every plausible reading of a digit blob:
    "1,234" is 1234 or 1.234; "0,75" is 0.75; "1 234,5" is 1234.5; "1,2,3" is nothing
    joined (the caller reads its parts)."""
    if blob[:1] in ".,":  # ".75"
        digits = blob[1:]
        if not digits.isdigit():
            return []
        value = _decimal("0." + digits)
        return [] if value is None else [(value, len(digits), len(digits.lstrip("0")) or 1)]
    separators = re.findall(r"[.,' ]", blob)
    groups = re.split(r"[.,' ]", blob)
    readings: list[tuple[str, int]] = []
    if not separators:
        readings.append((blob, 0))
    kinds = list(dict.fromkeys(separators))
    thousands = len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
    if len(kinds) == 1:
        if thousands:
            readings.append(("".join(groups), 0))
        if len(separators) == 1 and kinds[0] in ".,":
            readings.append((groups[0] + "." + groups[1], len(groups[1])))
    elif len(kinds) == 2 and separators[-1] in ".," and separators.count(separators[-1]) == 1:
        integer = groups[:-1]
        if len(integer[0]) <= 3 and all(len(g) == 3 for g in integer[1:]):
            readings.append(("".join(integer) + "." + groups[-1], len(groups[-1])))
    result = []
    for digits, decimals in readings:
        value = _decimal(digits)
        if value is not None:
            significant = len(digits.replace(".", "").lstrip("0")) or 1
            result.append((value, decimals, significant))
    return result


def number_mentions(text: str, *, for_givens: bool = False) -> list[Mention]:
    """Numbers in `text` (prepared): digits, fractions, percentages, words.

    With `for_givens`, also the numbers a reply would not count as values (coefficients,
    exponents, a fraction's parts), since all of them are the exercise's givens."""
    mentions: list[Mention] = []
    blobs = list(_BLOB.finditer(text))
    skip: set[int] = set()
    for index, match in enumerate(blobs):
        if index in skip:
            continue
        start, end = match.span()
        readings = _blob_readings(match.group(0))
        if not readings:
            for part in re.finditer(r"\d+", match.group(0)):
                value = Fraction(int(part.group(0)))
                mentions.append(
                    Mention(text, start + part.start(), start + part.end(), frozenset({value}))
                )
            continue
        values = {value for value, _d, _s in readings}
        decimals = max(d for _v, d, _s in readings)
        significant = max(s for _v, _d, s in readings)
        before = text[max(0, start - 40) : start]
        if _SIGN_CONTEXT.search(before):
            values = {-v for v in values} | values
            start -= 1
        kind = _context_kind(text, match.start(), end)
        if kind and not for_givens:
            continue
        # A fraction: "3/4", "3 over 4"; a division with a whole result (15/3) is a
        # computation to do, not an answer: its parts count as numbers instead.
        bar = _FRACTION_BAR.match(text, end)
        if bar and index + 1 < len(blobs) and blobs[index + 1].start() == bar.end():
            denominator_match = blobs[index + 1]
            numerator_value = _decimal(match.group(0).replace(",", "."))
            denominator = _decimal(denominator_match.group(0).replace(",", "."))
            if numerator_value is not None and denominator:
                quotient = numerator_value / denominator
                if quotient.denominator != 1 or for_givens:
                    fraction_values = {quotient}
                    previous = mentions[-1] if mentions else None
                    if (
                        previous is not None
                        and re.fullmatch(r" ", text[previous.end : start])
                        and len(previous.values) == 1
                        and quotient < 1
                    ):
                        (whole,) = previous.values
                        fraction_values.add(whole + quotient)  # 1 1/2
                    end = denominator_match.end()
                    mentions.append(Mention(text, start, end, frozenset(fraction_values)))
                    if not for_givens:
                        skip.add(index + 1)
                        continue
        percent = _PERCENT.match(text, end)
        if percent:
            values |= {v / 100 for v in values}
            end = percent.end()
        mentions.append(Mention(text, start, end, frozenset(values), False, decimals, significant))
    mentions.extend(_single_digit_runs(text, blobs))
    for phrase in numberwords.find_numbers(text):
        values = set(phrase.values)
        end = phrase.end
        percent = _PERCENT.match(text, end)
        if percent:
            values |= {v / 100 for v in values}
            end = percent.end()
        mentions.append(Mention(text, phrase.start, end, frozenset(values), phrase.weak))
    spelled = numberwords.join_spelled_letters(text)
    if spelled != text:
        known = {m.text for m in mentions}
        for phrase in numberwords.find_numbers(spelled):
            mention = Mention(spelled, phrase.start, phrase.end, phrase.values, phrase.weak)
            if mention.text not in known:
                mentions.append(mention)
    return mentions


def _context_kind(text: str, start: int, end: int) -> str:
    """Why the digits at [start, end) are not a value: "coefficient" (3x), "exponent"
    (x^2), "inside" a word (x2, h2o), "list" marker, "step" number; "" otherwise."""
    before = text[max(0, start - 30) : start]
    if before[-1:].isalpha() or before[-1:] in ("_",):
        return "inside"
    if re.search(r"\^\s*\(?\s*$", before):
        return "exponent"
    after = text[end : end + 2]
    if after[:1].isalpha() and not after[1:2].isalpha():
        return "coefficient"
    line_start = text.rfind("\n", 0, start) + 1
    if re.fullmatch(r"\s*[-*+]?\s*", text[line_start:start]) and re.match(
        r"[.)]\s", text[end : end + 2]
    ):
        return "list"
    if _STEP_WORDS.search(before):
        return "step"
    return ""


def _single_digit_runs(text: str, blobs: list[re.Match]) -> list[Mention]:
    """ "1 5" (each digit on its own, one space apart) read as 15 as well."""
    mentions = []
    run: list[re.Match] = []

    def close() -> None:
        if len(run) >= 2:
            digits = "".join(m.group(0) for m in run)
            mentions.append(
                Mention(text, run[0].start(), run[-1].end(), frozenset({Fraction(int(digits))}))
            )

    for match in blobs:
        single = len(match.group(0)) == 1
        if single and run and text[run[-1].end() : match.start()] == " ":
            run.append(match)
            continue
        close()
        run = [match] if single else []
    close()
    return mentions


# --- explicit statements ------------------------------------------------------------------

_VARIABLE_IS = re.compile(
    r"(?:^|[^\w])[a-z]\s*(?:=|:=|≈|is|es|est|vaut|equals|egale?|يساوي|تساوي|هو|هي)\s*"
    r"(?:equal to |igual a |egal a |a |a: )?$"
)
_EQUALS = re.compile(r"(?:=|≈)\s*$")
_ANSWER_WORDS = re.compile(
    r"\b(?:answer|result|solution|respuesta|resultado|solucion|reponse|resultat|"
    r"الجواب|الاجابه|الناتج|النتيجه|الحل|جواب|اجابه)\b[^.?!\n\d]{0,30}$"
)
_STATING_VERBS = re.compile(
    r"(?:\b(?:it's|it is|that's|that is|equals|gives|get|got|makes|comes to|is|es|son|da|"
    r"dan|igual a|vale|obtienes|obtenemos|queda|est|c'est|fait|donne|vaut|egal a|egale a|"
    r"obtient|obtiens|trouve)|(?:^|\s)(?:هو|هي|يساوي|تساوي|يكون|تكون|نحصل على|يعطي))"
    r"\s*(?:the |la |el |le |l'|de |exactly |exactamente |exactement |:)?\s*"
    r"(?:about |approximately |roughly |around |aproximadamente |unos |environ |"
    r"a peu pres |تقريبا )?$"
)
_QUESTION_WORDS = re.compile(
    r"\b(?:what|which|how|que|cual|cuanto|cuantos|quel|quelle|combien|qu'est)\b|ما|ماذا|كم|هل"
)
_ENDORSED_AFTER = re.compile(
    r"\s*(?:is|es|est|هو|هي)?\s*(?:the |la |el |le |l')?\s*(?:correct|right|answer|respuesta|"
    r"correcta|correcto|reponse|bonne|juste|exacte?|الجواب|الاجابه|صحيح|الصحيح|الصحيحه)"
)
_CONTINUES = re.compile(r"\s*(?:[+\-*/^(]|[a-z](?![a-z]))")
_MATH_TAIL = re.compile(r"(?:(?<![a-z])[a-z](?![a-z])|[\d.,+\-*/^()=≈ ])*$")


def _sentence_of(text: str, start: int, end: int) -> str:
    left = max(text.rfind(c, 0, start) for c in ".!?\n")
    rights = [i for i in (text.find(c, end) for c in ".!?\n") if i != -1]
    right = min(rights) if rights else len(text)
    return text[left + 1 : right + 1]


# --- the guard ----------------------------------------------------------------------------


def _texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [str(v) for v in value.values() if v]
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    return []


def _number_value(value: Any) -> Fraction | None:
    if isinstance(value, bool) or value is None:
        return None
    return _decimal(str(value).strip().replace(",", "."))


_ORDINALS = "|".join(sorted((re.escape(w) for w in numberwords.ORDINALS), key=len, reverse=True))
_CHOICE_NOUNS = (
    r"one|option|choice|answer|alternative|opcion|respuesta|alternativa|eleccion|reponse|"
    r"proposition|choix|solution"
)
_ORDINAL_REFS = [
    re.compile(rf"\b(?:the\s+)?({_ORDINALS})\s+(?:{_CHOICE_NOUNS})s?\b"),
    re.compile(rf"\bthe\s+({_ORDINALS})\s*(?:[.,;!?)]|$)"),
    re.compile(rf"\b(?:la|el|le|l')\s*({_ORDINALS})(?:\s+(?:{_CHOICE_NOUNS})\b|\s*(?:[.,;!?)]|$))"),
    re.compile(rf"(?:الخيار|الاختيار|الاجابه|الجواب|البديل)\s+({_ORDINALS})"),
]
_LETTER_CONTEXT = re.compile(
    r"(?i:\b(?:option|choice|answer|alternative|letter|opcion|respuesta|alternativa|letra|"
    r"inciso|reponse|choix|proposition|lettre)s?\b|الخيار|الاختيار|الاجابه|الجواب|الحرف)"
)
_LETTER_REFS = [
    re.compile(r"\(([A-Ja-j])\)"),
    re.compile(r"(?m)^\s*([A-J])[).:]\s"),
    re.compile(
        r"(?i:\b(?:option|choice|answer|letter|opcion|respuesta|letra|inciso|reponse|choix|"
        r"lettre|la|el|le|l'))\s*:?\s*([a-j])(?=\s*(?:[.,;:!?)]|$))"
    ),
]
_CAPITAL = re.compile(r"(?<![\w'’])([A-J])(?![\w'’])")
_ARABIC_LETTERS = "ابجدهوزحطي"
_ARABIC_REF = re.compile(
    rf"(?:الخيار|الاختيار|الاجابه|الجواب|الحرف)\s*:?\s*\(?([{_ARABIC_LETTERS}])\)?(?!\w)"
    rf"|\(([{_ARABIC_LETTERS}])\)"
)
_ENDORSE = re.compile(
    r"\b(?:correct|right|answer is|is the answer|choose|pick|select|go with|correcta|correcto|"
    r"respuesta es|elige|escoge|selecciona|bonne|juste|correcte|reponse est|choisis|choisir|"
    r"choisissez)\b|صحيح|الصحيح|اختر"
)
_NEGATION = re.compile(
    r"\b(?:not|isn't|no|pas|n'|ni|incorrect|wrong|incorrecta|incorrecto|fausse)\b|ليس|ليست|غير|خطا"
)


@dataclass
class _NumericTarget:
    value: Fraction
    tolerance: Fraction
    given: bool
    label: str = "number"


class LeakGuard:
    """Checks tutor replies against one exercise's answer. Build once per reply (or per
    exercise); `check` is pure apart from a small cache of expression comparisons."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot
        self.kind = str(snapshot.get("kind", ""))
        answer = snapshot.get("answer") or {}
        self.answer = answer if isinstance(answer, dict) else {}
        prompts = _texts(snapshot.get("prompt"))
        self.choices = [c for c in snapshot.get("choices") or [] if isinstance(c, dict)]
        choice_texts = [t for c in self.choices for t in _texts(c.get("text"))]
        self.prompt = " \n ".join(prepare(t) for t in prompts)
        self.compact_prompt = _compact(self.prompt)
        self.givens: set[Fraction] = set()
        for text in [self.prompt]:
            for mention in number_mentions(text, for_givens=True):
                self.givens |= mention.values
        self.targets: list[_NumericTarget] = []
        self.texts: list[tuple[str, bool]] = []  # (accepted text, only when stated)
        self.expression = None
        self.expression_text = ""
        self.expression_symbols: frozenset[str] = frozenset()
        self._expression_cache: dict[str, bool] = {}
        if self.kind == "numeric":
            self._numeric_targets()
        elif self.kind == "expression":
            self._expression_target()
        elif self.kind == "short_text":
            self._text_targets()
        self.choice_values: list[set[Fraction]] = []
        self.choice_texts: list[list[str]] = []
        self.choice_forms: list[set[str]] = []
        if self.kind in ("single_choice", "multiple_choice"):
            self._choice_targets()
        public = [self.prompt] + [prepare(t) for t in choice_texts + _texts(snapshot.get("hints"))]
        secret = [
            prepare(t) for t in _texts(snapshot.get("solution")) + _texts(snapshot.get("rubric"))
        ]
        self.solution_runs = _runs(secret) - _runs(public)

    # --- targets ----------------------------------------------------------------------

    def _is_given(self, value: Fraction, tolerance: Fraction = Fraction(0)) -> bool:
        return any(abs(g - value) <= tolerance for g in self.givens)

    def _numeric_targets(self) -> None:
        value = _number_value(self.answer.get("value"))
        if value is None:
            return
        tolerance = _number_value(self.answer.get("tolerance") or 0) or Fraction(0)
        if self.answer.get("relative"):
            tolerance *= abs(value)
        tolerance = abs(tolerance)
        self.targets.append(_NumericTarget(value, tolerance, self._is_given(value, tolerance)))
        if str(self.answer.get("unit", "")).strip() == "%":
            self.targets.append(
                _NumericTarget(value / 100, tolerance / 100, self._is_given(value / 100))
            )

    def _expression_target(self) -> None:
        expected = str(self.answer.get("expected", "") or "").strip()
        self.expression_text = prepare(expected)
        try:
            from courses import mathexpr

            expression = mathexpr.parse_expression(expected)
            symbols = frozenset(str(s) for s in expression.free_symbols)
        except Exception:  # a broken key: no SymPy comparison, the verbatim check stays
            logger.warning("leak guard: expression key does not parse: %r", expected)
            return
        self.expression = expression
        self.expression_symbols = symbols
        if not symbols:
            # A constant key (3/4, sqrt(2)/2): its value counts as a number too.
            try:
                value = Fraction(str(expression)) if expression.is_Rational else None
            except (ValueError, TypeError):
                value = None
            if value is None:
                try:
                    number = float(expression.evalf(20))
                    value = Fraction(number).limit_denominator(10**12)
                    self.targets.append(_NumericTarget(value, Fraction(0), self._is_given(value)))
                    self.targets[-1].label = "approximate"
                except (TypeError, ValueError, OverflowError):
                    pass
            else:
                self.targets.append(_NumericTarget(value, Fraction(0), self._is_given(value)))

    def _text_targets(self) -> None:
        accepted = self.answer.get("accepted") or []
        for item in accepted if isinstance(accepted, list) else []:
            text = prepare(str(item)).strip(" .,;:!?¡¿\"'«»")
            if not text:
                continue
            mentions = number_mentions(text)
            whole = [m for m in mentions if m.end - m.start >= len(text) - 1]
            for mention in whole[:1]:
                for value in mention.values:
                    if not any(t.value == value for t in self.targets):
                        self.targets.append(
                            _NumericTarget(value, Fraction(0), self._is_given(value))
                        )
            in_prompt = bool(re.search(rf"(?<!\w){re.escape(text)}(?!\w)", self.prompt))
            self.texts.append((text, len(text) < 3 or in_prompt))

    def _choice_targets(self) -> None:
        for choice in self.choices:
            values: set[Fraction] = set()
            texts: list[str] = []
            forms: list[str] = []
            for raw in _texts(choice.get("text")):
                text = prepare(raw).strip(" .,;:!?¡¿\"'«»")
                mentions = number_mentions(text)
                whole = [m for m in mentions if m.end - m.start >= len(text) - 1]
                if whole:
                    values |= whole[0].values
                    forms.append(text)
                elif len(text) >= 3:
                    texts.append(text)
            self.choice_values.append(values)
            self.choice_forms.append({_compact(t) for t in forms})
            self.choice_texts.append(texts)

    # --- the check ------------------------------------------------------------------------

    def check(self, text: str) -> Leak | None:
        """The first leak found in `text` (a reply, or the part of it written so far), or
        None. Never raises on any input; returns within about EXPRESSION_BUDGET_SECONDS."""
        prepared = prepare(text)
        mentions = number_mentions(prepared)
        for target in self.targets:
            leak = self._number_leak(target, mentions)
            if leak:
                return leak
        if self.texts:
            leak = self._text_leak(prepared)
            if leak:
                return leak
        if self.kind == "expression":
            leak = self._expression_leak(prepared)
            if leak:
                return leak
        if self.choices:
            leak = self._choice_leak(text, prepared, mentions)
            if leak:
                return leak
        return self._solution_leak(prepared)

    def _number_leak(self, target: _NumericTarget, mentions: list[Mention]) -> Leak | None:
        for mention in mentions:
            if not any(self._matches(target, mention, value) for value in mention.values):
                continue
            # A given (or a small word) counts only when stated as the answer; a decimal
            # that the prompt does not contain is never a given: "0.667" when the prompt
            # says "write 2/3 as a decimal".
            needs_statement = (
                mention.weak
                or self._in_prompt(mention.text)
                or (mention.decimals == 0 and any(self._is_given(v) for v in mention.values))
            )
            if needs_statement and not self._stated(mention):
                continue
            return Leak("number", mention.text.strip())
        return None

    def _in_prompt(self, text: str) -> bool:
        compact = re.escape(_compact(text.strip()))
        return bool(compact) and bool(
            re.search(rf"(?<![\w.,]){compact}(?![\w]|[.,]\d)", self.compact_prompt)
        )

    @staticmethod
    def _matches(target: _NumericTarget, mention: Mention, value: Fraction) -> bool:
        if abs(value - target.value) <= target.tolerance:
            return True
        if target.label == "approximate" or (mention.decimals >= 1 and mention.significant >= 2):
            # a rounding of the answer: 0.67 for 2/3, 1.41 for sqrt(2)
            decimals = max(mention.decimals, 1)
            if mention.significant >= 2:
                return abs(value - target.value) <= Fraction(1, 2 * 10**decimals)
        return False

    def _stated(self, mention: Mention) -> bool:
        """Whether `mention` is stated as the answer (not merely used)."""
        source, start, end = mention.source, mention.start, mention.end
        before = source[max(0, start - 60) : start]
        after = source[end : end + 40]
        if _ENDORSED_AFTER.match(after):
            return True
        if _CONTINUES.match(after):
            return False  # part of an expression: "x = 5 + y", "= 5x"
        if _VARIABLE_IS.search(before) or _ANSWER_WORDS.search(before):
            return True
        if _EQUALS.search(before):
            line_start = max(source.rfind(c, 0, start) for c in ".!?\n:") + 1
            tail = _MATH_TAIL.search(source[line_start:end])
            equation = _compact(tail.group(0) if tail else "")
            return not (equation and equation in self.compact_prompt)
        if _STATING_VERBS.search(before):
            sentence = _sentence_of(source, start, end)
            return not (sentence.rstrip().endswith("?") and _QUESTION_WORDS.search(sentence))
        return False

    def _text_leak(self, prepared: str) -> Leak | None:
        for text, only_stated in self.texts:
            for match in re.finditer(rf"(?<!\w){re.escape(text)}(?!\w)", prepared):
                if only_stated:
                    mention = Mention(prepared, match.start(), match.end(), frozenset())
                    if not self._stated(mention):
                        continue
                return Leak("text", match.group(0))
        return None

    # --- expressions ----------------------------------------------------------------------

    def _expression_leak(self, prepared: str) -> Leak | None:
        key = _compact(self.expression_text)
        if len(key) >= 2 and key not in self.compact_prompt:
            compact = _compact(prepared)
            for match in re.finditer(re.escape(key), compact):
                before = compact[match.start() - 1 : match.start()]
                after = compact[match.end() : match.end() + 1]
                if not re.match(r"[\w.^]", before) and not re.match(r"[\w.(^]", after):
                    return Leak("expression", self.expression_text)
        if self.expression is None or not self.expression_symbols:
            return None
        deadline = time.monotonic() + EXPRESSION_BUDGET_SECONDS
        checks = 0
        for candidate in self._expression_candidates(prepared):
            compact = _compact(candidate)
            if compact in self.compact_prompt:
                continue  # the exercise's own expression (equivalent by design)
            if compact not in self._expression_cache:
                if checks >= MAX_EXPRESSION_CHECKS or time.monotonic() > deadline:
                    logger.warning("leak guard: expression budget spent on %r", prepared[:200])
                    return Leak("unchecked", candidate)
                checks += 1
                if len(self._expression_cache) >= EXPRESSION_CACHE_SIZE:
                    self._expression_cache.clear()
                self._expression_cache[compact] = self._equivalent(candidate)
            if self._expression_cache[compact]:
                return Leak("expression", candidate)
        return None

    def _equivalent(self, candidate: str) -> bool:
        from courses import mathexpr

        try:
            return bool(mathexpr.texts_equivalent(self.answer.get("expected", ""), candidate))
        except Exception:  # untrusted text: any refusal or failure means "not the answer"
            return False

    def _expression_candidates(self, prepared: str) -> Iterable[str]:
        """Short spans made of whole terms whose variables are exactly the key's."""
        from courses.mathexpr import CONSTANTS, FUNCTIONS

        tokens: list[tuple[str, str, int, int]] = []  # (kind, text, start, end)
        runs: list[list[tuple[str, str, int, int]]] = []
        for match in re.finditer(r"\d+(?:\.\d+)?|[^\W\d_]+|\*\*|[-+*/^()]|\s+|.", prepared):
            piece = match.group(0)
            if piece.isspace() and "\n" not in piece:
                continue
            if piece[0].isdigit():
                kind = "num"
            elif piece.isascii() and piece.isalpha():
                if piece in FUNCTIONS or piece in CONSTANTS:
                    kind = "fn" if piece in FUNCTIONS else "const"
                elif len(piece) == 1 or (len(piece) <= 3 and set(piece) <= self.expression_symbols):
                    kind = "var"
                else:
                    kind = "break"
            elif piece in "+-*/^()" or piece == "**":
                kind = "op"
            else:
                kind = "break"
            if kind == "break":
                if tokens:
                    runs.append(tokens)
                tokens = []
                continue
            tokens.append((kind, piece, match.start(), match.end()))
        if tokens:
            runs.append(tokens)
        seen: set[str] = set()
        for run in runs:
            starts = [0] + [i + 1 for i, t in enumerate(run) if t[1] in ("+", "-", "(")]
            starts += [i for i, t in enumerate(run) if t[1] == "-"]
            ends = [len(run) - 1] + [i - 1 for i, t in enumerate(run) if t[1] in ("+", "-", ")")]
            for i in sorted(set(starts)):
                for j in sorted(set(ends), reverse=True):
                    if j <= i or j - i >= MAX_SPAN_TOKENS or i >= len(run) or j < 0:
                        continue
                    span = run[i : j + 1]
                    if span[0][1] in (")", "*", "/", "^", "**", "+") or span[-1][1] in "+-*/^(":
                        continue
                    depth = 0
                    balanced = True
                    for token in span:
                        depth += token[1] == "("
                        depth -= token[1] == ")"
                        if depth < 0:
                            balanced = False
                            break
                    if not balanced or depth:
                        continue
                    letters = {c for t in span if t[0] == "var" for c in t[1]}
                    if letters != self.expression_symbols:
                        continue
                    candidate = prepared[span[0][2] : span[-1][3]]
                    if candidate not in seen:
                        seen.add(candidate)
                        yield candidate

    # --- choices --------------------------------------------------------------------------

    def _choice_leak(self, original: str, prepared: str, mentions: list[Mention]) -> Leak | None:
        count = len(self.choices)
        correct = {i for i, c in enumerate(self.choices) if c.get("is_correct")}
        if not correct or len(correct) == count:
            return None
        refs: list[tuple[int, str, str]] = []  # (index, matched, sentence)
        cased = prepare(original, fold_case=False)
        for pattern in _LETTER_REFS:
            for match in pattern.finditer(cased):
                refs.append(
                    (
                        ord(match.group(1).lower()) - ord("a"),
                        match.group(0),
                        _sentence_of(cased, *match.span()),
                    )
                )
        for match in _CAPITAL.finditer(cased):
            sentence = _sentence_of(cased, *match.span())
            head = cased[max(0, match.start() - 3) : match.start()]
            sentence_start = not head.strip() or re.search(r"[.!?\n]\s*$", head)
            if match.group(1) == "A" and sentence_start:
                continue  # "A fraction is ..."
            if _LETTER_CONTEXT.search(sentence) or re.search(r"\b(?:la|el|le)\s*$", head.lower()):
                refs.append((ord(match.group(1)) - ord("A"), match.group(0), sentence))
        for match in _ARABIC_REF.finditer(prepared):
            letter = match.group(1) or match.group(2)
            refs.append(
                (
                    _ARABIC_LETTERS.index(letter),
                    match.group(0),
                    _sentence_of(prepared, *match.span()),
                )
            )
        for pattern in _ORDINAL_REFS:
            for match in pattern.finditer(prepared):
                position = numberwords.ORDINALS[match.group(1)]
                index = count - 1 if position == -1 else position - 1
                refs.append((index, match.group(0), _sentence_of(prepared, *match.span())))
        for index, values in enumerate(self.choice_values):
            for mention in mentions:
                if self._in_prompt(mention.text) or not values & mention.values:
                    continue
                # The choice as written ("2/4"), or its value when that is not a given
                # ("half" is the prompt's "one half", not choice "2/4").
                written = _compact(mention.text) in self.choice_forms[index]
                given = any(self._is_given(v) for v in mention.values)
                if (written or not given) and (not mention.weak or self._stated(mention)):
                    refs.append(
                        (
                            index,
                            mention.text,
                            _sentence_of(mention.source, mention.start, mention.end),
                        )
                    )
        for index, texts in enumerate(self.choice_texts):
            for text in texts:
                for match in re.finditer(rf"(?<!\w){re.escape(text)}(?!\w)", prepared):
                    if re.search(rf"(?<!\w){re.escape(text)}(?!\w)", self.prompt):
                        continue
                    refs.append((index, match.group(0), _sentence_of(prepared, *match.span())))
        refs = [r for r in refs if 0 <= r[0] < count]
        right = [r for r in refs if r[0] in correct]
        if not right:
            return None
        for _index, matched, sentence in right:
            lowered = sentence.lower()
            if _ENDORSE.search(lowered) and not _NEGATION.search(lowered):
                return Leak("choice", matched.strip())
        if all(r[0] in correct for r in refs):
            return Leak("choice", right[0][1].strip())
        return None

    # --- the worked solution ----------------------------------------------------------

    def _solution_leak(self, prepared: str) -> Leak | None:
        if not self.solution_runs:
            return None
        tokens = _tokens(prepared)
        for i in range(len(tokens) - SOLUTION_RUN + 1):
            run = tuple(tokens[i : i + SOLUTION_RUN])
            if run in self.solution_runs:
                return Leak("solution", " ".join(run))
        return None


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+|[=+\-*/^<>]", text)


def _runs(texts: list[str]) -> set[tuple[str, ...]]:
    runs: set[tuple[str, ...]] = set()
    for text in texts:
        tokens = _tokens(text)
        for i in range(len(tokens) - SOLUTION_RUN + 1):
            runs.add(tuple(tokens[i : i + SOLUTION_RUN]))
    return runs


# --- streaming ----------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?؟…。]\s+|\n\s*\n|(?<=[:])\n")


class StreamGate:
    """Releases a streamed reply sentence by sentence, each only after the text so far
    passed `guard.check` (see the module docstring for the boundary rule)."""

    def __init__(self, guard: Any) -> None:
        self.guard = guard
        self.leaked: Any = None
        self._released = ""
        self._pending = ""

    def feed(self, delta: str) -> str:
        """Take the next piece of the reply; return the text now safe to show."""
        if self.leaked is not None:
            return ""
        self._pending += delta
        cut = self._boundary()
        if cut <= 0:
            return ""
        return self._release(cut)

    def finish(self) -> str:
        """The reply has ended: check everything and release the rest."""
        if self.leaked is not None or not self._pending:
            return ""
        return self._release(len(self._pending))

    def _boundary(self) -> int:
        last = 0
        for match in _SENTENCE_END.finditer(self._pending):
            last = match.end()
        if not last and len(self._pending) > MAX_HOLD:
            cut = self._pending.rfind(" ", 0, len(self._pending) - HOLD_TAIL)
            last = cut if cut > 0 else 0
        return last

    def _release(self, cut: int) -> str:
        chunk = self._pending[:cut]
        if not self._check(self._released + chunk):
            return ""
        self._released += chunk
        self._pending = self._pending[cut:]
        return chunk

    def _check(self, text: str) -> bool:
        try:
            leak = self.guard.check(text)
        except Exception:  # a guard that fails withholds: nothing unchecked is shown
            logger.exception("leak guard failed")
            leak = Leak("unchecked", "")
        if leak:
            self.leaked = leak
            return False
        return True
