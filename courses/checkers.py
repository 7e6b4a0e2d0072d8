"""Server-side answer checking. The model's opinion never decides correctness.

Each checker takes the exercise's published snapshot (see courses.snapshots) and the
learner's raw response, and returns a CheckResult. Checkers are pure functions: no
database, no network. Free responses are not checked here: they come back as
NEEDS_GRADING, to be graded against the teacher's rubric later.

Short-text normalisation policy (both sides are normalised the same way):
Unicode NFKC; case folded unless the exercise is `case_sensitive`; accents and other
combining marks (including Arabic vowel marks) removed unless `accent_sensitive`;
runs of whitespace collapsed; leading/trailing whitespace and sentence punctuation
(. , ; : ! ? ¡ ¿ and quotes) ignored.
"""

import enum
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.utils.translation import gettext as _

from courses.mathexpr import ExpressionError, expressions_equivalent, parse_expression

MAX_RESPONSE_LENGTH = 200
MAX_FREE_RESPONSE_LENGTH = 5000


class Status(enum.StrEnum):
    CORRECT = "correct"
    INCORRECT = "incorrect"
    INVALID = "invalid"  # not an answer we can judge (malformed, missing unit, ...)
    NEEDS_GRADING = "needs_grading"


@dataclass(frozen=True)
class CheckResult:
    status: Status
    message: str = ""

    @property
    def is_correct(self) -> bool:
        return self.status == Status.CORRECT


def _invalid(message: str) -> CheckResult:
    return CheckResult(Status.INVALID, message)


def _verdict(correct: bool) -> CheckResult:
    if correct:
        return CheckResult(Status.CORRECT, _("Correct!"))
    return CheckResult(Status.INCORRECT, _("Not quite. Try again or ask for a hint."))


def check_answer(*, snapshot: dict[str, Any], response: Any) -> CheckResult:
    """Check `response` against the exercise `snapshot`.

    `response` is a list of choice indices for choice exercises and a string otherwise.
    """
    checker = _CHECKERS.get(snapshot["kind"])
    if checker is None:
        raise ValueError(f"unknown exercise kind {snapshot['kind']!r}")
    return checker(snapshot, response)


# --- multiple choice ------------------------------------------------------------------


def _selected_indices(response: Any, count: int) -> set[int] | None:
    items = response if isinstance(response, list | tuple) else [response]
    selected = set()
    for item in items:
        if isinstance(item, bool):
            return None
        try:
            index = int(item)
        except (TypeError, ValueError):
            return None
        if not 0 <= index < count:
            return None
        selected.add(index)
    return selected


def check_choice(snapshot: dict[str, Any], response: Any) -> CheckResult:
    choices = snapshot["choices"]
    selected = _selected_indices(response, len(choices))
    if selected is None:
        return _invalid(_("Pick one of the choices."))
    if not selected:
        return _invalid(_("Pick an answer."))
    if snapshot["kind"] == "single_choice" and len(selected) != 1:
        return _invalid(_("Pick exactly one answer."))
    correct = {index for index, choice in enumerate(choices) if choice["is_correct"]}
    return _verdict(selected == correct)


# --- numeric --------------------------------------------------------------------------

_NUMBER = re.compile(
    r"^(?P<number>[+-]?\d+\s*/\s*\d+"
    r"|[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)(?:[eE][+-]?\d{1,3})?)\s*(?P<unit>[^\d\s].*)?$"
)


def parse_number(text: str) -> tuple[Fraction, str]:
    """`"3,5 cm"` → (7/2, "cm"). Decimal comma or point; simple fractions; scientific
    notation. Raises ValueError with a user-facing message."""
    text = " ".join(unicodedata.normalize("NFKC", text or "").replace("\u2212", "-").split())
    if not text:
        raise ValueError(_("Enter a number."))
    if len(text) > MAX_RESPONSE_LENGTH:
        raise ValueError(_("That answer is too long."))
    match = _NUMBER.match(text)
    if match is None:
        raise ValueError(_("Enter a number, like 3.5 or 7/2."))
    number = match["number"].replace(" ", "")
    try:
        if "/" in number:
            numerator, denominator = number.split("/")
            if int(denominator) == 0:
                raise ValueError(_("Division by zero."))
            value = Fraction(int(numerator), int(denominator))
        else:
            value = Fraction(Decimal(number.replace(",", ".")))
    except (InvalidOperation, ZeroDivisionError) as exc:
        raise ValueError(_("Enter a number, like 3.5 or 7/2.")) from exc
    return value, (match["unit"] or "").strip()


def _unit_key(unit: str) -> str:
    return "".join(unit.split())


def check_numeric(snapshot: dict[str, Any], response: Any) -> CheckResult:
    key = snapshot["answer"]
    try:
        value, unit = parse_number(response if isinstance(response, str) else "")
    except ValueError as exc:
        return _invalid(str(exc))
    expected_unit = key.get("unit", "")
    if expected_unit and not unit:
        return _invalid(_("Give the unit too."))
    if unit and not expected_unit:
        return _invalid(_("This answer is a plain number, without a unit."))
    if unit and _unit_key(unit) != _unit_key(expected_unit):
        return _verdict(False)
    expected = Fraction(Decimal(str(key["value"])))
    tolerance = Fraction(Decimal(str(key.get("tolerance", 0))))
    if key.get("relative"):
        tolerance *= abs(expected)
    return _verdict(abs(value - expected) <= tolerance)


# --- math expression ------------------------------------------------------------------


def check_expression(snapshot: dict[str, Any], response: Any) -> CheckResult:
    try:
        given = parse_expression(response if isinstance(response, str) else "")
    except ExpressionError as exc:
        return _invalid(str(exc))
    expected = parse_expression(snapshot["answer"]["expected"])
    return _verdict(expressions_equivalent(expected, given))


# --- short text -----------------------------------------------------------------------

_EDGE_PUNCTUATION = " .,;:!?¡¿\"'«»“”\u2018\u2019"


def normalize_text(text: str, *, case_sensitive: bool, accent_sensitive: bool) -> str:
    """Apply the module's short-text policy (see the docstring at the top)."""
    text = unicodedata.normalize("NFKC", text)
    if not case_sensitive:
        text = text.casefold()
    if not accent_sensitive:
        decomposed = unicodedata.normalize("NFD", text)
        text = unicodedata.normalize(
            "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
        )
    return " ".join(text.split()).strip(_EDGE_PUNCTUATION)


def check_short_text(snapshot: dict[str, Any], response: Any) -> CheckResult:
    key = snapshot["answer"]
    if not isinstance(response, str) or not response.strip():
        return _invalid(_("Enter an answer."))
    if len(response) > MAX_RESPONSE_LENGTH:
        return _invalid(_("That answer is too long."))
    options = {
        "case_sensitive": bool(key.get("case_sensitive")),
        "accent_sensitive": bool(key.get("accent_sensitive")),
    }
    given = normalize_text(response, **options)
    accepted = {normalize_text(answer, **options) for answer in key["accepted"]}
    return _verdict(given in accepted)


# --- free response --------------------------------------------------------------------


def check_free_response(snapshot: dict[str, Any], response: Any) -> CheckResult:
    if not isinstance(response, str) or not response.strip():
        return _invalid(_("Enter an answer."))
    if len(response) > MAX_FREE_RESPONSE_LENGTH:
        return _invalid(_("That answer is too long."))
    return CheckResult(Status.NEEDS_GRADING, _("Your answer was saved for grading."))


_CHECKERS = {
    "single_choice": check_choice,
    "multiple_choice": check_choice,
    "numeric": check_numeric,
    "expression": check_expression,
    "short_text": check_short_text,
    "free_response": check_free_response,
}
