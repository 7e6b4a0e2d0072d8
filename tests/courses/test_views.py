"""Course pages: who may edit and see what, authoring round trips. (The learner's pages
are tested in tests/learning.)"""

import pytest
from django.urls import reverse

from courses import services
from courses.models import Course, Exercise, ExerciseKind, Lesson, SkillPrerequisite
from tests.courses.factories import (
    CourseFactory,
    ExerciseFactory,
    LessonFactory,
    SkillFactory,
    UnitFactory,
)
from tests.factories import SchoolFactory, StudentFactory, TeacherFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def school():
    return SchoolFactory()


@pytest.fixture
def teacher(school):
    return TeacherFactory(school=school)


@pytest.fixture
def student(school):
    return StudentFactory(school=school)


def published_lesson(school, **lesson_kwargs):
    course = CourseFactory(school=school, is_published=True)
    lesson = LessonFactory(unit=UnitFactory(course=course), **lesson_kwargs)
    exercise = ExerciseFactory(lesson=lesson)
    services.lesson_publish(lesson=lesson)
    return lesson, exercise


# --- permissions ----------------------------------------------------------------------


def editor_urls(exercise):
    lesson = exercise.lesson
    course = lesson.unit.course
    skill = exercise.skills.first()
    return [
        ("get", reverse("courses:course_edit", args=[course.id])),
        ("post", reverse("courses:course_publish", args=[course.id])),
        ("post", reverse("courses:preview", args=[course.id])),
        ("post", reverse("courses:unit_create", args=[course.id])),
        ("get", reverse("courses:skill_create", args=[course.id])),
        ("get", reverse("courses:unit_edit", args=[lesson.unit_id])),
        ("post", reverse("courses:lesson_create", args=[lesson.unit_id])),
        ("get", reverse("courses:lesson_edit", args=[lesson.id])),
        ("post", reverse("courses:lesson_publish", args=[lesson.id])),
        ("get", reverse("courses:exercise_create", args=[lesson.id]) + "?kind=numeric"),
        ("get", reverse("courses:exercise_edit", args=[exercise.id])),
        ("get", reverse("courses:skill_edit", args=[skill.id])),
    ]


@pytest.mark.parametrize("who", ["other_school_teacher", "student", "teacher_without_school"])
def test_non_editors_get_404_on_every_authoring_url(client, school, who):
    # given a draft course of `school`
    exercise = ExerciseFactory(lesson__unit__course__school=school)
    course = exercise.lesson.unit.course
    user = {
        "other_school_teacher": lambda: TeacherFactory(),
        "student": lambda: StudentFactory(school=school),
        "teacher_without_school": lambda: UserFactory(role="teacher"),
    }[who]()
    client.force_login(user)
    # when / then
    for method, url in editor_urls(exercise):
        response = getattr(client, method)(url, {"title": "Hacked", "published": "1"})
        assert response.status_code == 404, url
    course.refresh_from_db()
    assert course.is_published is False
    assert course.title_en.startswith("Course ")
    assert Lesson.objects.filter(unit__course=course).count() == 1


def test_school_teacher_can_open_every_authoring_url(client, school, teacher):
    exercise = ExerciseFactory(lesson__unit__course__school=school)
    client.force_login(teacher)
    for method, url in editor_urls(exercise):
        if method == "get":
            assert client.get(url).status_code == 200, url


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("courses:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


# --- authoring ------------------------------------------------------------------------


def test_teacher_creates_course_unit_lesson(client, teacher):
    client.force_login(teacher)
    response = client.post(
        reverse("courses:course_create"),
        {"title": "Algebra", "description": "", "source_language": "es"},
    )
    course = Course.objects.get()
    assert response["Location"] == reverse("courses:course_edit", args=[course.id])
    assert (course.school_id, course.source_language, course.title_es) == (
        teacher.school_id,
        "es",
        "Algebra",
    )
    client.post(reverse("courses:unit_create", args=[course.id]), {"unit-title": "Ecuaciones"})
    unit = course.units.get()
    response = client.post(reverse("courses:lesson_create", args=[unit.id]), {"title": "x + 1"})
    lesson = unit.lessons.get()
    assert response["Location"] == reverse("courses:lesson_edit", args=[lesson.id])


def test_student_cannot_create_course(client, student):
    client.force_login(student)
    response = client.post(
        reverse("courses:course_create"), {"title": "X", "source_language": "en"}
    )
    assert response.status_code == 400
    assert Course.objects.count() == 0


def test_teacher_adds_choice_exercise_with_hints(client, school, teacher):
    lesson = LessonFactory(unit__course__school=school)
    skill = SkillFactory(course=lesson.unit.course)
    client.force_login(teacher)
    url = reverse("courses:exercise_create", args=[lesson.id]) + "?kind=single_choice"
    response = client.post(
        url,
        {
            "prompt": "Which is $\\frac{1}{2}$?",
            "choices": "* 2/4\n1/3\n",
            "hints": "Double the top.\n---\nAnd the bottom.",
            "solution": "$\\frac{2}{4}$",
            "skills": [skill.id],
        },
    )
    assert response.status_code == 302
    exercise = Exercise.objects.get()
    assert exercise.kind == ExerciseKind.SINGLE_CHOICE
    assert [(c.text_en, c.is_correct) for c in exercise.choices.all()] == [
        ("2/4", True),
        ("1/3", False),
    ]
    assert [h.text_en for h in exercise.hints.all()] == ["Double the top.", "And the bottom."]


def test_invalid_exercise_form_shows_error_and_writes_nothing(client, school, teacher):
    lesson = LessonFactory(unit__course__school=school)
    skill = SkillFactory(course=lesson.unit.course)
    client.force_login(teacher)
    url = reverse("courses:exercise_create", args=[lesson.id]) + "?kind=expression"
    response = client.post(url, {"prompt": "Expand", "expected": "2(x+", "skills": [skill.id]})
    assert response.status_code == 400
    assert Exercise.objects.count() == 0


def test_cycle_via_skill_form_is_refused(client, school, teacher):
    course = CourseFactory(school=school)
    a = SkillFactory(course=course, code="a")
    b = SkillFactory(course=course, code="b")
    services.skill_prerequisites_set(skill=a, prerequisites=[b])
    client.force_login(teacher)
    response = client.post(
        reverse("courses:skill_edit", args=[b.id]),
        {"name": "B", "description": "", "prerequisites": [a.id]},
    )
    assert response.status_code == 400
    assert "This would make a cycle of prerequisites: b → a → b." in response.content.decode()
    assert list(SkillPrerequisite.objects.values_list("skill__code", "prerequisite__code")) == [
        ("a", "b")
    ]


def test_preview_renders_same_pipeline_and_sanitises(client, school, teacher):
    course = CourseFactory(school=school)
    client.force_login(teacher)
    response = client.post(
        reverse("courses:preview", args=[course.id]),
        {"source": "**Hi** $x^2$ <script>alert(1)</script> ![p](asset:pie.png)"},
    )
    assert response.json() == {
        "html": '<p><strong>Hi</strong> <span class="math inline">x^2</span> '
        "&lt;script&gt;alert(1)&lt;/script&gt; "
        f'<img src="/courses/{course.id}/assets/pie.png" alt="p"></p>\n'
    }


def test_preview_requires_csrf_token(school, teacher):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(teacher)
    course = CourseFactory(school=school)
    response = client.post(reverse("courses:preview", args=[course.id]), {"source": "x"})
    assert response.status_code == 403


def test_teacher_publishes_lesson_through_page(client, school, teacher):
    exercise = ExerciseFactory(lesson__unit__course__school=school)
    client.force_login(teacher)
    client.post(reverse("courses:lesson_publish", args=[exercise.lesson_id]))
    exercise.lesson.refresh_from_db()
    assert exercise.lesson.is_published is True
    client.post(reverse("courses:lesson_publish", args=[exercise.lesson_id]), {"published": "0"})
    exercise.lesson.refresh_from_db()
    assert exercise.lesson.is_published is False


def test_translating_lesson_keeps_source_text(client, school, teacher):
    lesson = LessonFactory(unit__course__school=school, title_en="Adding")
    client.force_login(teacher)
    url = reverse("courses:lesson_edit", args=[lesson.id]) + "?lang=ar"
    response = client.post(url, {"title": "الجمع", "body": "اجمع $a+b$"})
    assert response.status_code == 302
    lesson.refresh_from_db()
    assert (lesson.title_en, lesson.title_ar, lesson.body_ar) == ("Adding", "الجمع", "اجمع $a+b$")
