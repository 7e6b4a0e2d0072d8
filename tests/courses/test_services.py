"""Authoring services: courses, lessons, exercises, publishing and versions."""

import pytest

from common.errors import ApplicationError
from courses import services
from courses.models import (
    Choice,
    Course,
    Exercise,
    ExerciseKind,
    ExerciseVersion,
    Hint,
    LessonVersion,
)
from tests.courses.factories import (
    CourseFactory,
    ExerciseFactory,
    LessonFactory,
    SkillFactory,
)
from tests.factories import StudentFactory, TeacherFactory

pytestmark = pytest.mark.django_db


def test_course_create_puts_a_draft_in_the_teacher_school():
    teacher = TeacherFactory()
    course = services.course_create(
        author=teacher, title="  Fractions  ", source_language="es", description="Intro"
    )
    assert course.school_id == teacher.school_id
    assert course.source_language == "es"
    assert course.title_es == "Fractions"
    assert course.title_en is None
    assert course.description_es == "Intro"
    assert course.is_published is False


def test_student_cannot_create_course():
    student = StudentFactory()
    with pytest.raises(ApplicationError, match="Only teachers"):
        services.course_create(author=student, title="X", source_language="en")
    assert Course.objects.count() == 0


def test_course_create_with_unknown_language_changes_nothing():
    with pytest.raises(ApplicationError) as excinfo:
        services.course_create(author=TeacherFactory(), title="X", source_language="de")
    assert excinfo.value.field == "language"
    assert Course.objects.count() == 0


def test_lessons_and_units_are_appended_in_order():
    course = CourseFactory()
    unit = services.unit_create(course=course, title="Fractions")
    first = services.lesson_create(unit=unit, title="What is a fraction?")
    second = services.lesson_create(unit=unit, title="Adding", body="$1+1$")
    assert [lesson.id for lesson in unit.lessons.all()] == [first.id, second.id]
    assert second.body_en == "$1+1$"


def make_choice_exercise(lesson, skills):
    return services.exercise_create(
        lesson=lesson,
        kind=ExerciseKind.SINGLE_CHOICE,
        prompt="Which is bigger?",
        answer={},
        skills=skills,
        choices=[("1/2", True), ("1/3", False)],
        hints=["Draw both.", "Compare the denominators."],
        solution="Halves are bigger than thirds.",
    )


def test_exercise_create_stores_choices_hints_and_skills():
    lesson = LessonFactory()
    skill = SkillFactory(course=lesson.unit.course)
    exercise = make_choice_exercise(lesson, [skill])
    assert [(c.text_en, c.is_correct) for c in exercise.choices.all()] == [
        ("1/2", True),
        ("1/3", False),
    ]
    assert [h.text_en for h in exercise.hints.all()] == ["Draw both.", "Compare the denominators."]
    assert list(exercise.skills.all()) == [skill]
    assert exercise.solution_en == "Halves are bigger than thirds."


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"skills": []}, "skills", "Tag the exercise with at least one skill."),
        ({"choices": [("1/2", True), ("1/3", True)]}, "choices", "Mark exactly one choice"),
        ({"choices": [("1/2", True)]}, "choices", "Give between 2 and 10 choices."),
        ({"prompt": "  "}, "prompt", "Write the question."),
    ],
)
def test_invalid_choice_exercise_is_refused_and_nothing_written(kwargs, field, message):
    lesson = LessonFactory()
    skill = SkillFactory(course=lesson.unit.course)
    arguments = {
        "lesson": lesson,
        "kind": ExerciseKind.SINGLE_CHOICE,
        "prompt": "Which is bigger?",
        "answer": {},
        "skills": [skill],
        "choices": [("1/2", True), ("1/3", False)],
        **kwargs,
    }
    with pytest.raises(ApplicationError) as excinfo:
        services.exercise_create(**arguments)
    assert excinfo.value.field == field
    assert excinfo.value.message.startswith(message)
    assert (Exercise.objects.count(), Choice.objects.count(), Hint.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize(
    ("kind", "answer", "field"),
    [
        (ExerciseKind.NUMERIC, {"value": "abc"}, "answer.value"),
        (ExerciseKind.NUMERIC, {"value": "1", "tolerance": "-1"}, "answer.tolerance"),
        # Out of range (issue 12): checking against them took seconds to hours.
        (ExerciseKind.NUMERIC, {"value": "1E+10000000"}, "answer.value"),
        (ExerciseKind.NUMERIC, {"value": "1E+999999999"}, "answer.value"),
        (ExerciseKind.NUMERIC, {"value": "1", "tolerance": "1E-999999999"}, "answer.tolerance"),
        (ExerciseKind.EXPRESSION, {"expected": "e^e^e^e^e^x"}, "answer.expected"),
        (ExerciseKind.EXPRESSION, {"expected": "((x+1)^100)^100"}, "answer.expected"),
        (ExerciseKind.EXPRESSION, {"expected": "2x+"}, "answer.expected"),
        (ExerciseKind.EXPRESSION, {"expected": "9**9**9**9"}, "answer.expected"),
        (ExerciseKind.SHORT_TEXT, {"accepted": ["  "]}, "answer.accepted"),
        (ExerciseKind.FREE_RESPONSE, {}, "rubric"),
    ],
)
def test_invalid_answer_keys_are_refused(kind, answer, field):
    lesson = LessonFactory()
    skill = SkillFactory(course=lesson.unit.course)
    with pytest.raises(ApplicationError) as excinfo:
        services.exercise_create(
            lesson=lesson, kind=kind, prompt="Q", answer=answer, skills=[skill]
        )
    assert [p[0] for p in excinfo.value.extra["problems"]] == [field]
    assert Exercise.objects.count() == 0


def test_exercise_skill_from_another_course_is_refused():
    lesson = LessonFactory()
    with pytest.raises(ApplicationError, match="Skills must belong"):
        services.exercise_create(
            lesson=lesson,
            kind=ExerciseKind.NUMERIC,
            prompt="Q",
            answer={"value": "1"},
            skills=[SkillFactory()],
        )
    assert Exercise.objects.count() == 0


def test_exercise_translation_keeps_structure_and_needs_same_number_of_choices():
    lesson = LessonFactory()
    exercise = make_choice_exercise(lesson, [SkillFactory(course=lesson.unit.course)])
    skills = list(exercise.skills.all())
    # when translated to Spanish (correctness marks are ignored in a translation)
    services.exercise_update(
        exercise=exercise,
        language="es",
        prompt="¿Cuál es mayor?",
        answer={},
        skills=skills,
        choices=[("un medio", False), ("un tercio", True)],
        hints=["Dibuja ambos.", "Compara los denominadores."],
    )
    # then
    assert [(c.text_en, c.text_es, c.is_correct) for c in exercise.choices.all()] == [
        ("1/2", "un medio", True),
        ("1/3", "un tercio", False),
    ]
    assert exercise.prompt_en == "Which is bigger?"
    assert exercise.prompt_es == "¿Cuál es mayor?"
    # and a translation with the wrong number of choices is refused
    with pytest.raises(ApplicationError, match="each of the 2 choices"):
        services.exercise_update(
            exercise=exercise,
            language="fr",
            prompt="Lequel ?",
            answer={},
            skills=skills,
            choices=[("un demi", False)],
        )
    exercise.refresh_from_db()
    assert exercise.prompt_fr in (None, "")


def test_publish_snapshots_lesson_and_exercises():
    # given a lesson with one exercise
    exercise = ExerciseFactory()
    lesson = exercise.lesson
    # when
    version = services.lesson_publish(lesson=lesson)
    # then
    lesson.refresh_from_db()
    assert lesson.is_published is True
    assert lesson.published_version == version
    exercise_version = ExerciseVersion.objects.get(exercise=exercise)
    assert exercise_version.number == 1
    assert version.snapshot == {
        "source_language": "en",
        "title": {"en": lesson.title_en},
        "body": {"en": lesson.body_en},
        "exercise_versions": [exercise_version.id],
    }
    assert exercise_version.snapshot["answer"] == exercise.answer
    assert exercise_version.snapshot["skills"] == [s.code for s in exercise.skills.all()]


def test_republish_without_changes_creates_no_versions():
    exercise = ExerciseFactory()
    first = services.lesson_publish(lesson=exercise.lesson)
    second = services.lesson_publish(lesson=exercise.lesson)
    assert first == second
    assert (LessonVersion.objects.count(), ExerciseVersion.objects.count()) == (1, 1)


def test_editing_published_exercise_keeps_old_version_intact():
    # given a published exercise whose version an attempt would point at
    exercise = ExerciseFactory()
    services.lesson_publish(lesson=exercise.lesson)
    old = ExerciseVersion.objects.get(exercise=exercise)
    old_snapshot = dict(old.snapshot)
    # when the teacher changes the answer and republishes
    services.exercise_update(
        exercise=exercise,
        language="en",
        prompt="What is 1/2 as a decimal?",
        answer={"value": "0.5"},
        skills=list(exercise.skills.all()),
    )
    old.refresh_from_db()
    assert old.snapshot == old_snapshot  # the draft edit touches no version
    services.lesson_publish(lesson=exercise.lesson)
    # then the old version is unchanged and a new one is current
    old.refresh_from_db()
    assert old.snapshot == old_snapshot
    new = ExerciseVersion.objects.get(exercise=exercise, number=2)
    assert new.snapshot["answer"]["value"] == "0.5"
    exercise.lesson.refresh_from_db()
    assert exercise.lesson.published_version.snapshot["exercise_versions"] == [new.id]


def test_publish_with_invalid_exercise_changes_nothing():
    # given an exercise that lost its skills
    exercise = ExerciseFactory()
    exercise.skills.clear()
    # when
    with pytest.raises(ApplicationError) as excinfo:
        services.lesson_publish(lesson=exercise.lesson)
    # then
    assert excinfo.value.message == "Exercise 1: Tag the exercise with at least one skill."
    assert excinfo.value.extra["problems"] == [
        ["exercises[1].skills", "Tag the exercise with at least one skill."]
    ]
    exercise.lesson.refresh_from_db()
    assert exercise.lesson.is_published is False
    assert (LessonVersion.objects.count(), ExerciseVersion.objects.count()) == (0, 0)


def test_unpublish_hides_but_keeps_versions():
    exercise = ExerciseFactory()
    services.lesson_publish(lesson=exercise.lesson)
    services.lesson_unpublish(lesson=exercise.lesson)
    exercise.lesson.refresh_from_db()
    assert exercise.lesson.is_published is False
    assert (LessonVersion.objects.count(), ExerciseVersion.objects.count()) == (1, 1)


def test_editing_a_stale_lesson_instance_keeps_it_published():
    # given a lesson object loaded before the lesson was published elsewhere
    exercise = ExerciseFactory()
    stale = exercise.lesson
    services.lesson_publish(lesson=stale)
    # when the stale object is edited
    services.lesson_update(lesson=stale, language="en", title="New title", body="New body")
    # then publishing state is untouched; only the texts changed
    stale.refresh_from_db()
    assert stale.is_published is True
    assert stale.published_version is not None
    assert (stale.title_en, stale.body_en) == ("New title", "New body")
