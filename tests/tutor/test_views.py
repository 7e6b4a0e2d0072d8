"""Teachers' transcripts: their own classes only, filters, flag/clear/comment, sanitised
rendering, and the flagged count on the class page."""

import time

import pytest
from django.urls import reverse

from tests.factories import ClassroomFactory, StudentFactory, TeacherFactory, enroll
from tests.learning.conftest import build_world
from tests.tutor.conftest import open_exercise_world
from tutor import services
from tutor.models import TranscriptNote, TutorSession

pytestmark = pytest.mark.django_db


def chat(world, presentation=None, texts=("How do I start?",)):
    session = services.session_for_lesson(learner=world.student, lesson=world.lesson)
    for text in texts:
        services.turn_student_add(session=session, text=text, presentation=presentation)
    return session


def list_url(world):
    return reverse("tutor:transcripts", kwargs={"classroom_id": world.classroom.id})


def detail_url(world, session):
    return reverse(
        "tutor:transcript", kwargs={"classroom_id": world.classroom.id, "session_id": session.id}
    )


def test_teacher_reads_the_class_transcripts_rendered_safely(client):
    world, presentation = open_exercise_world()
    session = chat(world, presentation, texts=["<script>alert(1)</script> **why** $x^2$?"])
    client.force_login(world.teacher)
    listing = client.get(list_url(world))
    assert listing.status_code == 200
    assert world.student.display_name in listing.content.decode()
    page = client.get(detail_url(world, session))
    body = page.content.decode()
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in body
    assert "<strong>why</strong>" in body
    assert "during an exercise" in body


def test_other_schools_other_students_and_students_get_404(client):
    world = build_world()
    session = chat(world)
    stranger = TeacherFactory()  # another school
    for user in (stranger, world.student):
        client.force_login(user)
        assert client.get(list_url(world)).status_code == 404
        assert client.get(detail_url(world, session)).status_code == 404
        response = client.post(
            reverse(
                "tutor:transcript_action",
                kwargs={"classroom_id": world.classroom.id, "session_id": session.id},
            ),
            {"action": "clear"},
        )
        assert response.status_code == 404
    # a teacher's other class of the same school cannot be used to reach this session
    other_class = ClassroomFactory(teacher=world.teacher, school=world.school)
    client.force_login(world.teacher)
    url = reverse(
        "tutor:transcript", kwargs={"classroom_id": other_class.id, "session_id": session.id}
    )
    assert client.get(url).status_code == 404


def test_filters_by_flag_student_and_exercise(client):
    world, presentation = open_exercise_world()
    flagged = chat(world, presentation)
    services.session_flag(session=flagged, reasons=["abuse"])
    other = StudentFactory()
    enroll(world.classroom, other)
    quiet = services.session_for_lesson(learner=other, lesson=world.lesson)
    services.turn_student_add(session=quiet, text="Hello", presentation=None)
    client.force_login(world.teacher)

    def rows(**params):
        page = client.get(list_url(world), params)
        return [s.id for s in page.context["sessions"]]

    assert rows() == [flagged.id, quiet.id]  # flagged first
    assert rows(flagged="1") == [flagged.id]
    assert rows(student=str(other.id)) == [quiet.id]
    assert rows(exercise=str(presentation.exercise_id)) == [flagged.id]
    assert rows(student="not-a-number") == rows()  # a bad filter value is ignored


def test_flag_clear_and_comment_are_recorded(client, mailoutbox):
    world = build_world()
    session = chat(world)
    client.force_login(world.teacher)
    action = reverse(
        "tutor:transcript_action",
        kwargs={"classroom_id": world.classroom.id, "session_id": session.id},
    )
    client.post(action, {"action": "flag"})
    session.refresh_from_db()
    assert session.flagged_at is not None
    assert session.flags == ["teacher"]
    assert mailoutbox == []  # a teacher's own flag sends no alert
    client.post(action, {"action": "comment", "text": "Talked to her.", "turn": "1"})
    client.post(action, {"action": "comment", "text": "Nope", "turn": "99"})
    client.post(action, {"action": "clear"})
    session.refresh_from_db()
    assert session.flagged_at is None
    assert session.flags == []
    notes = list(TranscriptNote.objects.filter(session=session).values_list("kind", "text"))
    assert notes == [("flagged", ""), ("comment", "Talked to her."), ("cleared", "")]
    page = client.get(detail_url(world, session))
    assert "Talked to her." in page.content.decode()


def test_class_page_shows_the_flagged_count_to_staff_only(client):
    world = build_world()
    services.session_flag(session=chat(world), reasons=["self_harm"])
    client.force_login(world.teacher)
    page = client.get(reverse("accounts:classroom_detail", args=[world.classroom.id]))
    assert 'data-testid="flagged-count"' in page.content.decode()
    client.force_login(world.student)
    page = client.get(reverse("accounts:classroom_detail", args=[world.classroom.id]))
    assert 'data-testid="tutor-oversight"' not in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_screening_flag_alerts_each_teacher_once(celery_live, mailoutbox):
    world = build_world()
    session = chat(world)
    assert services.session_flag(session=session, reasons=["abuse"]) is True
    assert services.session_flag(session=session, reasons=["personal_data"]) is False
    for _ in range(50):  # through the broker in services mode
        if mailoutbox:
            break
        time.sleep(0.1)
    time.sleep(0.3)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [world.teacher.email]
    from tutor.notifications import flagged_alert_send

    assert flagged_alert_send(session_id=session.id) == 0  # a redelivered task sends nothing
    assert TutorSession.objects.get(pk=session.id).flags == ["abuse", "personal_data"]
