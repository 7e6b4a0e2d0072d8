"""Checking and de-duplicating model-drafted variants, and the teacher's decision."""

import pytest

from common.errors import ApplicationError
from courses.models import ExerciseKind, ExerciseVariant, VariantBatch
from courses.variants import (
    Source,
    latex_to_plain,
    variant_batch_request,
    variant_check,
    variant_decide,
    variants_select,
)
from tests.courses.factories import ExerciseFactory, SkillFactory
from tests.factories import TeacherFactory

EQUATION = Source(
    kind=ExerciseKind.NUMERIC,
    language="en",
    prompt="Solve $x + 7 = 12$. What is $x$?",
    solution="$x = 12 - 7 = 5$",
    hints=["Subtract 7 from both sides."],
    answer={"value": "5", "tolerance": "0", "relative": False, "unit": ""},
)
RIBBON = Source(
    kind=ExerciseKind.NUMERIC,
    language="en",
    prompt="Ribbons of $\\frac{1}{2}$ m and $\\frac{1}{5}$ m: how long together, in cm?",
    solution="70 cm",
    hints=[],
    answer={"value": "70", "tolerance": "0.5", "relative": False, "unit": "cm"},
)
EXPAND = Source(
    kind=ExerciseKind.EXPRESSION,
    language="en",
    prompt="Expand $2(x+1)$.",
    solution="$2x + 2$",
    hints=[],
    answer={"expected": "2x+2"},
)


def draft(prompt, computation, answer, **extra):
    return {
        "prompt": prompt,
        "computation": computation,
        "answer": answer,
        "hints": ["Think."],
        "solution": "Worked.",
        **extra,
    }


def test_latex_fractions_become_parser_syntax():
    assert latex_to_plain("\\frac{1}{2} + \\frac{\\frac{1}{3}}{4} \\cdot 2") == (
        "((1)/(2)) + ((((1)/(3)))/(4)) * 2"
    )


def test_correct_equation_variant_is_kept_with_its_answer_key():
    checked, reason = variant_check(
        EQUATION, draft("Solve $x + 4 = 10$. What is $x$?", "10 - 4", "6")
    )

    assert reason == ""
    assert checked.data["answer"] == {"value": "6", "tolerance": "0", "relative": False, "unit": ""}
    assert checked.data["hints"] == ["Think."]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (draft("Solve $x + 4 = 10$. What is $x$?", "10 - 4", "7"), "does not match"),
        (draft("Solve $x + 4 = 10$. What is $x$?", "9 - 4", "5"), "numbers not in the prompt"),
        (draft("Solve $x + 4 = 10$. What is $x$?", "10 + 4", "14"), "does not solve"),
        (draft("Solve $x + 4 = 10$.", "10 -", "6"), "does not parse"),
        (draft("Solve $x + 4 = 10$.", "10 - 4", "six"), "not a number"),
        (draft("Solve $x + 4 = 10$.", "x - 4", "6"), "not a number"),
        (draft("Solve $x + 4 = 10$.", "9**9**9**9", "6"), "numbers not in the prompt"),
        ({"prompt": "Solve $x+4=10$", "answer": "6"}, "missing field"),
        ("not a dict", "not an object"),
    ],
)
def test_variant_whose_answer_does_not_check_out_is_dropped(bad, reason):
    checked, why = variant_check(EQUATION, bad)

    assert checked is None
    assert reason in why


def test_units_and_tolerance_follow_the_original():
    ok, _ = variant_check(
        RIBBON,
        draft(
            "Ribbons of $\\frac{1}{4}$ m and $\\frac{1}{2}$ m, in cm?", "(1/4 + 1/2) * 100", "75 cm"
        ),
    )
    wrong_unit, why = variant_check(
        RIBBON,
        draft(
            "Ribbons of $\\frac{1}{4}$ m and $\\frac{1}{2}$ m, in cm?", "(1/4 + 1/2) * 100", "75 m"
        ),
    )

    assert ok is not None
    assert ok.data["answer"]["value"] == "75"
    assert wrong_unit is None
    assert why == "answer has the wrong unit"


def test_expression_variant_is_checked_for_equivalence_with_sympy():
    ok, _ = variant_check(EXPAND, draft("Expand $3(x-2)$.", "3*(x-2)", "3x - 6"))
    wrong, why = variant_check(EXPAND, draft("Expand $3(x-2)$.", "3*(x-2)", "3x - 2"))

    assert ok is not None
    assert wrong is None
    assert why == "answer does not match its computation"


@pytest.mark.django_db
def test_select_drops_failures_and_duplicates_of_the_original_and_each_other():
    drafts = [
        draft("Solve $x + 4 = 10$. What is $x$?", "10 - 4", "6"),  # kept
        draft("Find $x$ if $x + 4 = 10$.", "10 - 4", "6"),  # same math as the first
        draft("Solve $x + 7 = 12$. What is $x$?", "12 - 7", "5"),  # the original itself
        draft("Solve $x + 9 = 20$. What is $x$?", "20 - 9", "11"),  # kept
        draft("Solve $x + 9 = 20$.", "20 - 9", "12"),  # wrong answer
        None,  # unparseable model output
    ]

    kept, dropped_check, dropped_duplicate = variants_select(EQUATION, drafts)

    assert [k.data["answer"]["value"] for k in kept] == ["6", "11"]
    assert dropped_check == 2
    assert dropped_duplicate == 2


@pytest.mark.django_db
def test_request_refuses_uncheckable_kinds_and_bad_counts_and_changes_nothing(settings):
    teacher = TeacherFactory()
    choice = ExerciseFactory(kind=ExerciseKind.SHORT_TEXT, answer={"accepted": ["a"]})
    numeric = ExerciseFactory(kind=ExerciseKind.NUMERIC, answer={"value": "5"})

    for exercise, count in ((choice, 3), (numeric, 0), (numeric, 11)):
        with pytest.raises(ApplicationError):
            variant_batch_request(exercise=exercise, user=teacher, count=count)

    assert not VariantBatch.objects.exists()


@pytest.mark.django_db
def test_approving_creates_a_draft_exercise_and_a_second_decision_is_refused():
    exercise = ExerciseFactory(kind=ExerciseKind.NUMERIC, answer={"value": "5"})
    exercise.skills.add(SkillFactory(course=exercise.lesson.unit.course))
    batch = VariantBatch.objects.create(
        exercise=exercise,
        requested_by=TeacherFactory(),
        requested=1,
        status=VariantBatch.Status.DONE,
    )
    data = variant_check(EQUATION, draft("Solve $x + 4 = 10$.", "10 - 4", "6"))[0].data
    variant = ExerciseVariant.objects.create(batch=batch, data=data)

    approved = variant_decide(variant=variant, approve=True)

    created = approved.created_exercise
    assert approved.decision == ExerciseVariant.Decision.APPROVED
    assert created.lesson == exercise.lesson
    assert created.answer["value"] == "6"
    assert list(created.skills.all()) == list(exercise.skills.all())
    assert [h.text_en for h in created.hints.all()] == ["Think."]
    with pytest.raises(ApplicationError):
        variant_decide(variant=variant, approve=False)
    assert created.lesson.exercises.count() == 2
