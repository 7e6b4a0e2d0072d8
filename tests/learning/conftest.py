"""A class with an assigned course of two skills (b requires a) and a few exercises."""

from dataclasses import dataclass

import pytest

from courses import services as course_services
from courses.models import ExerciseKind, Hint, Lesson, Skill
from learning.services import course_assign
from tests.courses.factories import (
    CourseFactory,
    ExerciseFactory,
    LessonFactory,
    SkillFactory,
    UnitFactory,
)
from tests.factories import ClassroomFactory, StudentFactory, enroll


@dataclass
class World:
    school: object
    teacher: object
    classroom: object
    student: object
    course: object
    lesson: Lesson
    skill_a: Skill
    skill_b: Skill
    exercises: list


def build_world(school=None) -> World:
    classroom = ClassroomFactory(**({"teacher__school": school} if school else {}))
    teacher = classroom.teacher
    school = classroom.school
    course = CourseFactory(school=school, is_published=True)
    lesson = LessonFactory(unit=UnitFactory(course=course), title_en="Adding fractions")
    skill_a = SkillFactory(course=course, code="a")
    skill_b = SkillFactory(course=course, code="b")
    skill_b.prerequisites.add(skill_a, through_defaults={})
    exercises = [
        ExerciseFactory(lesson=lesson, position=1, skills=[skill_a]),
        ExerciseFactory(lesson=lesson, position=2, skills=[skill_a]),
        ExerciseFactory(lesson=lesson, position=3, skills=[skill_b]),
    ]
    for exercise in exercises:
        Hint.objects.create(exercise=exercise, position=1, text_en="Add the numerators.")
    course_services.lesson_publish(lesson=lesson)
    course_assign(classroom=classroom, course=course, assigned_by=teacher)
    student = StudentFactory()
    enroll(classroom, student)
    return World(school, teacher, classroom, student, course, lesson, skill_a, skill_b, exercises)


@pytest.fixture
def world(db) -> World:
    return build_world()


def free_response_exercise(world: World):
    """A published free-response exercise (skill a) in its own lesson of the course."""
    lesson = LessonFactory(unit=world.lesson.unit, title_en="Explain")
    exercise = ExerciseFactory(
        lesson=lesson,
        kind=ExerciseKind.FREE_RESPONSE,
        prompt_en="Explain why 1/2 = 2/4.",
        rubric_en="Mentions multiplying numerator and denominator by the same number.",
        answer={},
        skills=[world.skill_a],
    )
    course_services.lesson_publish(lesson=lesson)
    return lesson, exercise
