"""Retrieval over published lesson text with the packaged multilingual embedding model."""

import time

import pytest
from django.db import transaction

from courses import services
from courses.models import LessonPassage
from courses.retrieval import course_passages_search, lesson_version_index, split_passages
from tests.courses.factories import CourseFactory, LessonFactory, UnitFactory

# Indexing is a Celery task queued on commit: in services mode it runs on a live worker.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_live")]


def wait_indexed(lesson, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if LessonPassage.objects.filter(lesson_version=lesson.published_version).exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"lesson {lesson.id} was not indexed")


FRACTIONS = """# Adding fractions

To add two fractions with the same denominator, add the numerators and keep the
denominator: $\\frac{1}{5} + \\frac{2}{5} = \\frac{3}{5}$.

## Different denominators

When the denominators differ, first rewrite both fractions over a common denominator,
for example the least common multiple of the two denominators."""

FRACTIONS_ES = """# Sumar fracciones

Para sumar fracciones con el mismo denominador, suma los numeradores y conserva el
denominador."""

EQUATIONS = """# Solving linear equations

To solve $2x + 3 = 11$, subtract 3 from both sides and then divide both sides by 2.
Whatever you do to one side of the equation, do to the other."""


def published_lesson(course, title, body, **translations):
    lesson = LessonFactory(unit=UnitFactory(course=course), title_en=title, body_en=body)
    for field, value in translations.items():
        setattr(lesson, field, value)
    lesson.save()
    services.lesson_publish(lesson=lesson)  # indexes on commit
    lesson.refresh_from_db()
    wait_indexed(lesson)
    return lesson


def test_split_keeps_display_math_whole_and_starts_sections_at_headings():
    body = "# A\n\nintro\n\n$$\nx = 1\n\ny = 2\n$$\n\n## B\n\nmore"

    assert split_passages(body) == ["# A\n\nintro\n\n$$\nx = 1\n\ny = 2\n$$", "## B\n\nmore"]


def test_question_finds_the_lesson_that_answers_it():
    course = CourseFactory(is_published=True)
    fractions = published_lesson(course, "Adding fractions", FRACTIONS)
    published_lesson(course, "Linear equations", EQUATIONS)

    hits = course_passages_search(
        course=course, question="How do I add 1/3 and 1/4?", language="en", limit=2
    )

    assert hits[0].lesson_id == fractions.id
    assert "denominator" in hits[0].text
    assert hits[0].score > hits[1].score


def test_learner_language_is_searched_when_the_lesson_has_it():
    course = CourseFactory(is_published=True)
    published_lesson(
        course, "Adding fractions", FRACTIONS, title_es="Sumar fracciones", body_es=FRACTIONS_ES
    )

    spanish = course_passages_search(
        course=course, question="¿Cómo sumo fracciones?", language="es"
    )
    french = course_passages_search(
        course=course, question="Comment additionner des fractions ?", language="fr"
    )

    assert {hit.language for hit in spanish} == {"es"}
    assert spanish[0].lesson_title == "Sumar fracciones"
    assert {hit.language for hit in french} == {"en"}  # falls back to the source language


def test_unpublished_lessons_and_other_courses_are_not_searched():
    course = CourseFactory(is_published=True)
    hidden = published_lesson(course, "Adding fractions", FRACTIONS)
    services.lesson_unpublish(lesson=hidden)
    published_lesson(CourseFactory(is_published=True), "Adding fractions", FRACTIONS)

    assert course_passages_search(course=course, question="add fractions", language="en") == []


def test_republishing_searches_only_the_new_version():
    course = CourseFactory(is_published=True)
    lesson = published_lesson(course, "Adding fractions", FRACTIONS)
    services.lesson_update(lesson=lesson, language="en", title="Equations", body=EQUATIONS)
    services.lesson_publish(lesson=lesson)
    lesson.refresh_from_db()
    wait_indexed(lesson)

    hits = course_passages_search(course=course, question="add fractions", language="en")

    assert hits
    assert all("Solving linear equations" in hit.text for hit in hits)


def test_indexing_twice_replaces_rows_and_a_failed_publish_indexes_nothing():
    course = CourseFactory(is_published=True)
    lesson = published_lesson(course, "Adding fractions", FRACTIONS)
    version = lesson.published_version
    count = LessonPassage.objects.filter(lesson_version=version).count()

    assert lesson_version_index(version=version) == count
    assert LessonPassage.objects.filter(lesson_version=version).count() == count

    other = LessonFactory(unit=UnitFactory(course=course), body_en=EQUATIONS)

    class Rollback(Exception):
        pass

    def publish_then_fail():
        with transaction.atomic():
            services.lesson_publish(lesson=other)
            raise Rollback

    with pytest.raises(Rollback):
        publish_then_fail()
    # Positive control: a committed publish afterwards is indexed, so the worker was live.
    wait_indexed(published_lesson(course, "Equations", EQUATIONS))
    assert not LessonPassage.objects.filter(lesson_version__lesson=other).exists()
