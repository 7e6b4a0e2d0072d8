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

import atexit
import enum
import logging
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.utils.translation import gettext as _

from common.isolation import PoolBusy, WorkerCrashed, WorkerPool, WorkerTimeout
from courses import mathexpr
from courses.mathexpr import AnswerKeyError, ExpressionError

logger = logging.getLogger(__name__)

MAX_RESPONSE_LENGTH = 200
MAX_FREE_RESPONSE_LENGTH = 5000
# Numbers in answer keys (value and tolerance). Exact arithmetic on bigger ones is slow:
# Fraction(Decimal("1E+10000000")) alone takes seconds, holding the GIL.
MAX_NUMBER_DIGITS = 30
MAX_NUMBER_EXPONENT = 300
# Expression answers and keys are parsed and compared in worker processes (SymPy work
# on text a user typed; see common.isolation and courses.mathexpr): at most this long,
# waiting for a free worker included, after which the worker is killed and the answer
# is "too complex to check".
EXPRESSION_CHECK_SECONDS = 2.0
EXPRESSION_WORKERS = 2
EXPRESSION_WORKER_MEMORY_BYTES = 512 * 1024 * 1024
EXPRESSION_WORKER_NICE = 5

# One pool per process (it starts no process until the first expression is checked).
_expression_pool = WorkerPool(
    size=EXPRESSION_WORKERS,
    memory_bytes=EXPRESSION_WORKER_MEMORY_BYTES,
    preload=["courses.mathexpr"],
    nice=EXPRESSION_WORKER_NICE,
)
atexit.register(_expression_pool.close)


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
    Returns within about EXPRESSION_CHECK_SECONDS whatever the input; expression answers
    block on a worker process meanwhile, so async code calls this through
    `sync_to_async`. Other kinds take microseconds.
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


def number_in_range(number: Decimal) -> bool:
    """`number` is finite, of at most MAX_NUMBER_DIGITS significant digits, and zero or
    between 10^-MAX_NUMBER_EXPONENT and 10^MAX_NUMBER_EXPONENT in size."""
    if not number.is_finite():
        return False
    if number.is_zero():
        return True
    significant = "".join(map(str, number.as_tuple().digits)).rstrip("0")
    return len(significant) <= MAX_NUMBER_DIGITS and (abs(number.adjusted()) <= MAX_NUMBER_EXPONENT)


def _key_number(value: Any) -> Fraction | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return Fraction(number) if number_in_range(number) else None


def _broken_key(snapshot: dict[str, Any]) -> CheckResult:
    logger.warning("answer key out of range or invalid: %r", snapshot["answer"])
    return _invalid(
        _("This exercise cannot be checked: its answer key is invalid. Tell your teacher.")
    )


def check_numeric(snapshot: dict[str, Any], response: Any) -> CheckResult:
    key = snapshot["answer"]
    # Keys saved before authoring enforced MAX_NUMBER_EXPONENT are refused here too.
    expected = _key_number(key.get("value"))
    tolerance = _key_number(key.get("tolerance") or 0)
    if expected is None or tolerance is None or tolerance < 0:
        return _broken_key(snapshot)
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
    if key.get("relative"):
        tolerance *= abs(expected)
    return _verdict(abs(value - expected) <= tolerance)


# --- math expression ------------------------------------------------------------------


def expression_error_message(error: ExpressionError) -> str:
    """The learner-facing, translated message of `error` (courses.mathexpr has no
    Django, so it cannot translate)."""
    return _(error.message) % error.params


def _busy() -> str:
    return _("Answer checking is busy. Try again in a moment.")


def check_expression(snapshot: dict[str, Any], response: Any) -> CheckResult:
    given = response if isinstance(response, str) else ""
    if len(given) > mathexpr.MAX_LENGTH:  # not worth sending to a worker
        return _invalid(_(mathexpr.TOO_LONG))
    try:
        equivalent = _expression_pool.call(
            mathexpr.texts_equivalent,
            snapshot["answer"]["expected"],
            given,
            timeout=EXPRESSION_CHECK_SECONDS,
        )
    except ExpressionError as exc:
        return _invalid(expression_error_message(exc))
    except AnswerKeyError:
        return _broken_key(snapshot)
    except (WorkerTimeout, WorkerCrashed):
        logger.warning("expression check stopped: %r", given)
        return _invalid(_(mathexpr.TOO_COMPLEX))
    except PoolBusy:
        logger.warning("expression check refused: all workers busy")
        return _invalid(_busy())
    except Exception:  # a bug, not the learner's fault: say so rather than answer 500
        logger.exception("expression check failed: %r", given)
        return _invalid(_(mathexpr.TOO_COMPLEX))
    return _verdict(equivalent)


def expression_key_error(text: str) -> str | None:
    """Why `text` cannot be an expression answer key (translated), or None when it can.

    Parses in the answer checker's worker, under the same time limit: parsing is SymPy
    work too, and an author is as untrusted as a learner.
    """
    if len(text) > mathexpr.MAX_LENGTH:
        return _(mathexpr.TOO_LONG)
    try:
        _expression_pool.call(
            mathexpr.check_expression_text, text, timeout=EXPRESSION_CHECK_SECONDS
        )
    except ExpressionError as exc:
        return expression_error_message(exc)
    except (WorkerTimeout, WorkerCrashed):
        logger.warning("expression key check stopped: %r", text)
        return _(mathexpr.TOO_COMPLEX)
    except PoolBusy:
        return _busy()
    return None


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
