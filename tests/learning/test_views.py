"""The student's pages and the teacher's class views: access, the lesson flow, exports."""

import csv
import io

import pytest
from django.urls import reverse

from courses import services as course_services
from learning.models import Attempt, CourseAssignment, Presentation, SkillMastery
from tests.courses.factories import CourseFactory
from tests.factories import StudentFactory, TeacherFactory
from tests.learning.conftest import build_world

pytestmark = pytest.mark.django_db


def lesson_url(world):
    return reverse("learning:lesson", args=[world.lesson.id])


# --- assignment and navigation ------------------------------------------------------------


def test_student_class_page_lists_assigned_course_with_continue(client, world):
    client.force_login(world.student)
    page = client.get(reverse("accounts:classroom_detail", args=[world.classroom.id]))
    assert page.status_code == 200
    assert world.course.title_en.encode() in page.content
    assert reverse("learning:course_continue", args=[world.course.id]).encode() in page.content
    # continue goes to the lesson with the next step chosen for the student
    response = client.get(reverse("learning:course_continue", args=[world.course.id]))
    assert response.status_code == 302
    assert response["Location"].startswith(lesson_url(world))


def test_teacher_assigns_and_unassigns_a_course(client, world):
    other = CourseFactory(school=world.school, is_published=True)
    client.force_login(world.teacher)
    url = reverse("learning:classroom_course_assign", args=[world.classroom.id])
    client.post(url, {"course": other.id, "action": "assign"})
    assert CourseAssignment.objects.filter(classroom=world.classroom, course=other).exists()
    client.post(url, {"course": other.id, "action": "unassign"})
    assert not CourseAssignment.objects.filter(classroom=world.classroom, course=other).exists()


def test_another_schools_course_can_never_be_assigned(client, world):
    foreign = build_world()  # another school, its own published course
    client.force_login(world.teacher)
    url = reverse("learning:classroom_course_assign", args=[world.classroom.id])
    response = client.post(url, {"course": foreign.course.id, "action": "assign"})
    assert response.status_code == 404
    assert not CourseAssignment.objects.filter(
        classroom=world.classroom, course=foreign.course
    ).exists()


def test_students_and_other_teachers_cannot_assign(client, world):
    other = CourseFactory(school=world.school, is_published=True)
    url = reverse("learning:classroom_course_assign", args=[world.classroom.id])
    for user in (world.student, TeacherFactory()):
        client.force_login(user)
        assert client.post(url, {"course": other.id}).status_code == 404
    assert CourseAssignment.objects.filter(course=other).count() == 0


def test_unassigned_course_is_not_reachable_by_students(client, world):
    unassigned = CourseFactory(school=world.school, is_published=True)
    client.force_login(world.student)
    assert client.get(reverse("learning:course", args=[unassigned.id])).status_code == 404


# --- tenant isolation -------------------------------------------------------------------


def test_student_of_school_a_cannot_read_or_submit_anything_of_school_b(client, world):
    other = build_world()
    client.force_login(other.student)
    other_presentation_page = client.get(lesson_url(other))
    assert other_presentation_page.status_code == 200
    presentation = Presentation.objects.get(learner=other.student)
    # when the student of school A tries school B's course, lesson and exercise
    client.force_login(world.student)
    assert client.get(reverse("learning:course", args=[other.course.id])).status_code == 404
    assert client.get(lesson_url(other)).status_code == 404
    assert (
        client.get(reverse("learning:course_continue", args=[other.course.id])).status_code == 404
    )
    for name in ("answer", "hint", "solution"):
        url = reverse(f"learning:{name}", args=[presentation.id])
        assert client.post(url, {"answer": "0.75"}).status_code == 404
    assert client.get(reverse("learning:status", args=[presentation.id])).status_code == 404
    assert client.post(reverse("learning:lesson_next", args=[other.lesson.id])).status_code == 404
    # then nothing was written
    assert Attempt.objects.count() == 0
    presentation.refresh_from_db()
    assert presentation.hints_revealed == 0
    # and the other school's teacher cannot see this class's mastery
    client.force_login(other.teacher)
    url = reverse("learning:classroom_mastery", args=[world.classroom.id])
    assert client.get(url).status_code == 404


def test_student_cannot_answer_a_classmates_exercise(client, world):
    classmate = StudentFactory(school=world.school)
    from tests.factories import enroll

    enroll(world.classroom, classmate)
    client.force_login(classmate)
    client.get(lesson_url(world))
    theirs = Presentation.objects.get(learner=classmate)
    client.force_login(world.student)
    response = client.post(reverse("learning:answer", args=[theirs.id]), {"answer": "1"})
    assert response.status_code == 404
    assert Attempt.objects.count() == 0


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(lesson_url(world))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


# --- the lesson flow ----------------------------------------------------------------------


def test_lesson_page_shows_reading_then_one_exercise_without_solution(client, world):
    client.force_login(world.student)
    page = client.get(lesson_url(world))
    assert page.status_code == 200
    assert page.context["lesson"].title == "Adding fractions"
    assert page.content.count(b'data-testid="exercise"') == 1
    # the worked solution is not in the page before an attempt
    assert b"0.75$" not in page.content
    assert b'data-testid="open-solution"' not in page.content


def test_answer_hint_solution_round_trip(client, world):
    client.force_login(world.student)
    client.get(lesson_url(world))
    presentation = Presentation.objects.get()
    # a wrong answer: feedback, still open, solution now offered
    response = client.post(reverse("learning:answer", args=[presentation.id]), {"answer": "0.5"})
    assert response.status_code == 302
    page = client.get(lesson_url(world))
    assert "Not quite" in page.content.decode()
    assert b'data-testid="open-solution"' in page.content
    # a hint, then the solution, both recorded
    client.post(reverse("learning:hint", args=[presentation.id]))
    client.post(reverse("learning:solution", args=[presentation.id]))
    presentation.refresh_from_db()
    assert presentation.hints_revealed == 1
    assert presentation.solution_opened_at is not None
    page = client.get(lesson_url(world))
    assert b"Add the numerators." in page.content
    assert b'data-testid="solution"' in page.content
    # the mastery bar shows the move of the first attempt
    bars = page.context["bars"]
    assert [(b["code"], b["before"], b["now"]) for b in bars] == [
        ("a", 20, round(100 * SkillMastery.objects.get().p_known))
    ]


def test_malformed_answer_shows_message_and_stores_nothing(client, world):
    client.force_login(world.student)
    client.get(lesson_url(world))
    presentation = Presentation.objects.get()
    response = client.post(
        reverse("learning:answer", args=[presentation.id]), {"answer": "banana"}, follow=True
    )
    assert b"Enter a number" in response.content
    assert Attempt.objects.count() == 0


def test_students_see_published_snapshot_not_later_drafts(client, world):
    course_services.lesson_update(
        lesson=world.lesson, language="en", title="Draft title", body="secret"
    )
    client.force_login(world.student)
    response = client.get(lesson_url(world))
    assert response.context["lesson"].title == "Adding fractions"
    assert b"secret" not in response.content


def test_lesson_shown_in_learner_language(client, world):
    world.student.preferred_language = "es"
    world.student.save()
    client.force_login(world.student)
    response = client.get(lesson_url(world))
    assert response.context["lesson"].title == "Adding fractions"  # no es text: fallback
    assert 'lang="es"' in response.content.decode()


def test_lesson_page_query_count_is_bounded(client, world, django_assert_max_num_queries):
    client.force_login(world.student)
    client.get(lesson_url(world))
    with django_assert_max_num_queries(16):  # 14 today; fixed, whatever the course size
        assert client.get(lesson_url(world)).status_code == 200


def test_progress_page_shows_mastery_reviews_and_streak(client, world):
    client.force_login(world.student)
    client.get(lesson_url(world))
    presentation = Presentation.objects.get()
    client.post(reverse("learning:answer", args=[presentation.id]), {"answer": "0.75"})
    page = client.get(reverse("learning:progress"))
    assert page.status_code == 200
    assert page.context["streak"] == 1
    rows = page.context["courses"][0]["progress"].skills
    assert [r.skill.code for r in rows] == ["a", "b"]
    assert rows[0].opportunities == 1


# --- teacher analytics --------------------------------------------------------------------


def test_teacher_heatmap_stuck_difficulty_and_csv(client, world, settings):
    settings.LEARNING_STUCK_ATTEMPTS = 2
    client.force_login(world.student)
    for _ in range(2):  # two wrong first attempts on skill a
        client.get(lesson_url(world))
        presentation = Presentation.objects.filter(closed_at__isnull=True).get()
        client.post(reverse("learning:answer", args=[presentation.id]), {"answer": "0.5"})
        client.post(reverse("learning:lesson_next", args=[world.lesson.id]))
    client.force_login(world.teacher)
    page = client.get(reverse("learning:classroom_mastery", args=[world.classroom.id]))
    assert page.status_code == 200
    report = page.context["report"]
    assert [s.code for s in report.skills] == ["a", "b"]
    assert report.rows[0].cells[1] is None
    assert report.rows[0].cells[0] == pytest.approx(SkillMastery.objects.get().p_known)
    assert [(s.student, s.skill.code) for s in report.stuck] == [(world.student, "a")]
    assert {e.first_try_correct for e in report.exercises} == {0.0}
    assert page.content.count(b'data-testid="heat-cell"') == 2
    # CSV: one row per student, one column per skill
    response = client.get(reverse("learning:classroom_mastery_csv", args=[world.classroom.id]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["student", "email", "a", "b", "attempts"]
    assert rows[1][1] == world.student.email
    assert rows[1][3] == ""
    assert rows[1][4] == "2"


def test_csv_neutralises_formulas_in_names(client, world):
    world.student.display_name = "=HYPERLINK(1)"
    world.student.save()
    client.force_login(world.teacher)
    response = client.get(reverse("learning:classroom_mastery_csv", args=[world.classroom.id]))
    assert "'=HYPERLINK(1)" in response.content.decode()
