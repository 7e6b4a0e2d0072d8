"""Answer keys refused at authoring time so that checking answers against them stays
cheap (issue 12): courses.validation, through the package importer too."""

import time

import pytest

from courses.models import Course, Exercise, ExerciseKind
from courses.packages import PackageError, course_import
from courses.validation import clean_answer
from tests.courses.test_packages import EXERCISE, build_package, minimal_manifest
from tests.factories import TeacherFactory

OUT_OF_RANGE = "Use at most 30 significant digits, and a number between 10^-300 and 10^300 (or 0)."


@pytest.mark.parametrize(
    ("answer", "problems"),
    [
        ({"value": "1E+10000000"}, [("answer.value", OUT_OF_RANGE)]),
        ({"value": "1E+999999999"}, [("answer.value", OUT_OF_RANGE)]),
        ({"value": "-1E+301"}, [("answer.value", OUT_OF_RANGE)]),
        ({"value": "1E-301"}, [("answer.value", OUT_OF_RANGE)]),
        ({"value": "1." + "1" * 30}, [("answer.value", OUT_OF_RANGE)]),
        ({"value": "1", "tolerance": "1E+999999999"}, [("answer.tolerance", OUT_OF_RANGE)]),
        ({"value": "Infinity"}, [("answer.value", "Enter the correct number.")]),
        ({"value": "1E+300", "tolerance": "1E-300"}, []),
        ({"value": "0", "tolerance": "0"}, []),
        ({"value": "1" * 30}, []),
    ],
)
def test_numeric_key_range_and_precision(answer, problems):
    started = time.monotonic()
    _cleaned, found = clean_answer(ExerciseKind.NUMERIC, answer)
    assert time.monotonic() - started < 0.5
    assert found == problems


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ("((x+1)^100)^100", "Expected answer: This expression is too complex to check."),
        ("e^e^e^e^e^x", "Expected answer: This expression is too complex to check."),
        ("(((999999999999999/999999999999998)^100)^100)^100", "Expected answer: Number too large."),
        ("x+" * 150 + "x", "Expected answer: Expression too long."),
    ],
)
def test_hostile_expression_key_is_refused_quickly(expected, message):
    started = time.monotonic()
    _cleaned, found = clean_answer(ExerciseKind.EXPRESSION, {"expected": expected})
    assert time.monotonic() - started < 6  # parsed in the checker's worker, under its limit
    assert found == [("answer.expected", message)]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["1E+10000000", "1E+999999999"])
def test_package_with_numeric_key_out_of_range_is_refused(value):
    manifest = minimal_manifest()
    manifest["units"][0]["lessons"][0]["exercises"][0]["answer"] = {"value": value}
    with pytest.raises(PackageError) as excinfo:
        course_import(author=TeacherFactory(), data=build_package(manifest))
    assert excinfo.value.extra["problems"] == [f"{EXERCISE}.answer.value: {OUT_OF_RANGE}"]
    assert (Course.objects.count(), Exercise.objects.count()) == (0, 0)
