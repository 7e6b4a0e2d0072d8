"""Reads for courses, and the permission-checked lookups.

Editors are the teachers and school admins of the course's school; anyone else gets
Http404 (never 403), like accounts.selectors. Learners (anyone in the school) see only
published lessons of published courses, and only their published snapshots.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.urls import reverse

from accounts.models import User
from courses.i18n import localize, texts_of
from courses.models import (
    Course,
    Exercise,
    ExerciseVariant,
    ExerciseVersion,
    Lesson,
    Skill,
    Unit,
    VariantBatch,
)
from courses.rendering import render_markdown


def _is_editor(user: User) -> bool:
    return user.is_authenticated and user.is_staff_member and user.school_id is not None


# --- editors --------------------------------------------------------------------------


def courses_for_editor(*, user: User) -> QuerySet[Course]:
    if not _is_editor(user):
        return Course.objects.none()
    return Course.objects.filter(school_id=user.school_id).order_by("-updated_at", "id")


def course_get_for_editor(*, user: User, course_id: int) -> Course:
    """The course, if `user` is a teacher or admin of its school; Http404 otherwise."""
    course = courses_for_editor(user=user).filter(pk=course_id).first()
    if course is None:
        raise Http404("No such course.")
    return course


def unit_get_for_editor(*, user: User, unit_id: int) -> Unit:
    if not _is_editor(user):
        raise Http404("No such unit.")
    unit = (
        Unit.objects.select_related("course")
        .filter(pk=unit_id, course__school_id=user.school_id)
        .first()
    )
    if unit is None:
        raise Http404("No such unit.")
    return unit


def lesson_get_for_editor(*, user: User, lesson_id: int) -> Lesson:
    if not _is_editor(user):
        raise Http404("No such lesson.")
    lesson = (
        Lesson.objects.select_related("unit__course")
        .filter(pk=lesson_id, unit__course__school_id=user.school_id)
        .first()
    )
    if lesson is None:
        raise Http404("No such lesson.")
    return lesson


def exercise_get_for_editor(*, user: User, exercise_id: int) -> Exercise:
    if not _is_editor(user):
        raise Http404("No such exercise.")
    exercise = (
        Exercise.objects.select_related("lesson__unit__course")
        .prefetch_related("choices", "hints", "skills")
        .filter(pk=exercise_id, lesson__unit__course__school_id=user.school_id)
        .first()
    )
    if exercise is None:
        raise Http404("No such exercise.")
    return exercise


def skill_get_for_editor(*, user: User, skill_id: int) -> Skill:
    if not _is_editor(user):
        raise Http404("No such skill.")
    skill = (
        Skill.objects.select_related("course")
        .prefetch_related("prerequisites")
        .filter(pk=skill_id, course__school_id=user.school_id)
        .first()
    )
    if skill is None:
        raise Http404("No such skill.")
    return skill


def course_units_with_lessons(*, course: Course) -> QuerySet[Unit]:
    return course.units.prefetch_related(
        Prefetch("lessons", queryset=Lesson.objects.order_by("position", "id"))
    )


def course_skills(*, course: Course) -> QuerySet[Skill]:
    return course.skills.prefetch_related("prerequisites").order_by("code")


def lesson_exercises(*, lesson: Lesson) -> QuerySet[Exercise]:
    return lesson.exercises.prefetch_related("choices", "hints", "skills")


# --- learners -------------------------------------------------------------------------


def courses_for_learner(*, user: User) -> QuerySet[Course]:
    """Published courses of the user's school."""
    if not user.is_authenticated or user.school_id is None:
        return Course.objects.none()
    return Course.objects.filter(school_id=user.school_id, is_published=True)


def course_get_for_learner(*, user: User, course_id: int) -> Course:
    course = courses_for_learner(user=user).filter(pk=course_id).first()
    if course is None:
        raise Http404("No such course.")
    return course


def course_published_lessons(*, course: Course) -> QuerySet[Lesson]:
    return (
        Lesson.objects.filter(
            unit__course=course, is_published=True, published_version__isnull=False
        )
        .select_related("unit", "published_version")
        .order_by("unit__position", "unit_id", "position", "id")
    )


def lesson_get_for_learner(*, user: User, lesson_id: int) -> Lesson:
    """A published lesson of a published course in the user's school; Http404 otherwise."""
    if not user.is_authenticated or user.school_id is None:
        raise Http404("No such lesson.")
    lesson = (
        Lesson.objects.select_related("unit__course", "published_version")
        .filter(
            pk=lesson_id,
            is_published=True,
            published_version__isnull=False,
            unit__course__is_published=True,
            unit__course__school_id=user.school_id,
        )
        .first()
    )
    if lesson is None:
        raise Http404("No such lesson.")
    return lesson


def exercise_version_get_for_learner(
    *, user: User, lesson_id: int, version_id: int
) -> ExerciseVersion:
    """An exercise version shown by the lesson's published snapshot; Http404 otherwise."""
    lesson = lesson_get_for_learner(user=user, lesson_id=lesson_id)
    if version_id not in lesson.published_version.snapshot["exercise_versions"]:
        raise Http404("No such exercise.")
    return ExerciseVersion.objects.get(pk=version_id)


@dataclass
class ExerciseView:
    """One exercise as a learner sees it, in one language (HTML already sanitised)."""

    version_id: int
    kind: str
    prompt_html: str
    choices: list[str]
    hints_html: list[str]
    solution_html: str


@dataclass
class LessonView:
    lesson_id: int
    course_id: int
    course_title: str
    title: str
    body_html: str
    exercises: list[ExerciseView] = field(default_factory=list)


def asset_base(course_id: int) -> str:
    return reverse("courses:asset", kwargs={"course_id": course_id, "name": "x"})[:-1]


def exercise_view(*, version: ExerciseVersion, language: str, course_id: int) -> ExerciseView:
    snap: dict[str, Any] = version.snapshot
    source = snap["source_language"]
    base = asset_base(course_id)

    def render(texts: dict[str, str]) -> str:
        return render_markdown(
            localize(texts, language=language, source_language=source), asset_base=base
        )

    return ExerciseView(
        version_id=version.id,
        kind=snap["kind"],
        prompt_html=render(snap["prompt"]),
        choices=[
            localize(c["text"], language=language, source_language=source) for c in snap["choices"]
        ],
        hints_html=[render(hint) for hint in snap["hints"]],
        solution_html=render(snap["solution"]),
    )


def lesson_view(*, lesson: Lesson, language: str, with_exercises: bool = True) -> LessonView:
    """The published lesson in `language` (falling back to the source language).
    `lesson` comes from lesson_get_for_learner. One query for the exercises (none
    without `with_exercises`: the reading only)."""
    snap = lesson.published_version.snapshot
    source = snap["source_language"]
    course = lesson.unit.course
    ids = snap["exercise_versions"] if with_exercises else []
    versions = {v.id: v for v in ExerciseVersion.objects.filter(id__in=ids)} if ids else {}
    return LessonView(
        lesson_id=lesson.id,
        course_id=course.id,
        course_title=localize(
            texts_of(course, "title"), language=language, source_language=course.source_language
        ),
        title=localize(snap["title"], language=language, source_language=source),
        body_html=render_markdown(
            localize(snap["body"], language=language, source_language=source),
            asset_base=asset_base(course.id),
        ),
        exercises=[
            exercise_view(version=versions[i], language=language, course_id=course.id)
            for i in ids
            if i in versions
        ],
    )


def exercise_variant_batches(*, exercise: Exercise) -> QuerySet[VariantBatch]:
    return exercise.variant_batches.select_related("requested_by").prefetch_related("variants")


def variant_batch_get_for_editor(*, user: User, batch_id: int) -> VariantBatch:
    """A variant batch of an exercise `user` may edit; Http404 otherwise."""
    if not _is_editor(user):
        raise Http404("No such batch.")
    batch = (
        VariantBatch.objects.select_related("exercise__lesson__unit__course")
        .filter(pk=batch_id, exercise__lesson__unit__course__school_id=user.school_id)
        .first()
    )
    if batch is None:
        raise Http404("No such batch.")
    return batch


def variant_get_for_editor(*, user: User, variant_id: int) -> ExerciseVariant:
    """A drafted variant of an exercise `user` may edit; Http404 otherwise."""
    if not _is_editor(user):
        raise Http404("No such variant.")
    variant = (
        ExerciseVariant.objects.select_related("batch__exercise__lesson__unit__course")
        .filter(pk=variant_id, batch__exercise__lesson__unit__course__school_id=user.school_id)
        .first()
    )
    if variant is None:
        raise Http404("No such variant.")
    return variant
