"""Checks on exercise content shared by the authoring services and the package importer.

Each function returns a list of problems `(field, message)` instead of raising, so the
importer can report every problem at once. An empty list means valid.

Answer keys (Exercise.answer) per kind:

* single_choice / multiple_choice: `{}` (correctness lives on the choices)
* numeric: `{"value": "0.75", "tolerance": "0.005", "relative": false, "unit": "cm"}`
  (`tolerance`, `relative`, `unit` optional; numbers as strings or numbers, within
  courses.checkers.number_in_range so that checking stays cheap)
* expression: `{"expected": "2(x+1)"}` (parsed by courses.mathexpr)
* short_text: `{"accepted": ["3/4", "three quarters"], "case_sensitive": false,
  "accent_sensitive": false}`
* free_response: `{}` (the rubric is the translated `rubric` text)
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from courses.checkers import (
    MAX_NUMBER_DIGITS,
    MAX_NUMBER_EXPONENT,
    expression_key_error,
    number_in_range,
)
from courses.models import ExerciseKind

Problem = tuple[str, str]
MAX_CHOICES = 10
MAX_HINTS = 10
MAX_ACCEPTED = 50


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _out_of_range() -> str:
    return _(
        "Use at most %(digits)d significant digits, and a number between "
        "10^-%(exponent)d and 10^%(exponent)d (or 0)."
    ) % {"digits": MAX_NUMBER_DIGITS, "exponent": MAX_NUMBER_EXPONENT}


def clean_answer(kind: str, answer: Any) -> tuple[dict[str, Any], list[Problem]]:
    """Normalised answer key for `kind`, and the problems found."""
    problems: list[Problem] = []
    if not isinstance(answer, dict):
        return {}, [("answer", _("The answer key must be an object."))]
    if kind in (ExerciseKind.SINGLE_CHOICE, ExerciseKind.MULTIPLE_CHOICE):
        return {}, problems
    if kind == ExerciseKind.FREE_RESPONSE:
        return {}, problems
    if kind == ExerciseKind.NUMERIC:
        value = _number(answer.get("value"))
        tolerance = _number(answer.get("tolerance", 0) or 0)
        if value is None:
            problems.append(("answer.value", _("Enter the correct number.")))
        elif not number_in_range(value):
            problems.append(("answer.value", _out_of_range()))
        if tolerance is None or (tolerance is not None and tolerance < 0):
            problems.append(("answer.tolerance", _("The tolerance must be a number ≥ 0.")))
        elif not number_in_range(tolerance):
            problems.append(("answer.tolerance", _out_of_range()))
        unit = str(answer.get("unit", "") or "").strip()
        if len(unit) > 20:
            problems.append(("answer.unit", _("The unit is too long.")))
        cleaned = {
            "value": str(value) if value is not None else "",
            "tolerance": str(tolerance) if tolerance is not None else "0",
            "relative": bool(answer.get("relative", False)),
            "unit": unit,
        }
        return cleaned, problems
    if kind == ExerciseKind.EXPRESSION:
        expected = str(answer.get("expected", "") or "").strip()
        # Within courses.mathexpr's limits, so checking answers against it is too.
        error = expression_key_error(expected)
        if error is not None:
            problems.append(("answer.expected", _("Expected answer: %(error)s") % {"error": error}))
        return {"expected": expected}, problems
    if kind == ExerciseKind.SHORT_TEXT:
        accepted = answer.get("accepted")
        if not isinstance(accepted, list) or not all(isinstance(a, str) for a in accepted):
            accepted = []
        accepted = [" ".join(a.split()) for a in accepted if a.strip()]
        if not accepted:
            problems.append(("answer.accepted", _("Give at least one accepted answer.")))
        if len(accepted) > MAX_ACCEPTED:
            problems.append(("answer.accepted", _("Too many accepted answers.")))
        cleaned = {
            "accepted": accepted,
            "case_sensitive": bool(answer.get("case_sensitive", False)),
            "accent_sensitive": bool(answer.get("accent_sensitive", False)),
        }
        return cleaned, problems
    return {}, [("kind", _("Unknown exercise type."))]


def exercise_problems(
    *,
    kind: str,
    prompt: str,
    choices: list[tuple[str, bool]],
    hints: list[str],
    skill_count: int,
    rubric: str,
) -> list[Problem]:
    """Problems with an exercise's structure (answer keys are checked by clean_answer).
    Texts are those of the course's source language."""
    problems: list[Problem] = []
    if kind not in ExerciseKind.values:
        return [("kind", _("Unknown exercise type."))]
    if not prompt.strip():
        problems.append(("prompt", _("Write the question.")))
    if skill_count < 1:
        problems.append(("skills", _("Tag the exercise with at least one skill.")))
    if len(hints) > MAX_HINTS:
        problems.append(("hints", _("At most %(max)d hints.") % {"max": MAX_HINTS}))
    if kind in (ExerciseKind.SINGLE_CHOICE, ExerciseKind.MULTIPLE_CHOICE):
        if not 2 <= len(choices) <= MAX_CHOICES:
            problems.append(
                ("choices", _("Give between 2 and %(max)d choices.") % {"max": MAX_CHOICES})
            )
        if any(not text.strip() for text, _correct in choices):
            problems.append(("choices", _("A choice is empty.")))
        correct = sum(1 for _text, is_correct in choices if is_correct)
        if kind == ExerciseKind.SINGLE_CHOICE and correct != 1:
            problems.append(("choices", _("Mark exactly one choice as correct.")))
        if kind == ExerciseKind.MULTIPLE_CHOICE and correct < 1:
            problems.append(("choices", _("Mark at least one choice as correct.")))
    elif choices:
        problems.append(("choices", _("Only multiple-choice exercises have choices.")))
    if kind == ExerciseKind.FREE_RESPONSE and not rubric.strip():
        problems.append(("rubric", _("Write the rubric the answer is graded against.")))
    return problems
