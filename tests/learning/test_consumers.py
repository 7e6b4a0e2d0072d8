"""The learner socket: a grade computed by a Celery task reaches the learner's open
pages through the channel layer (Redis in services mode), and nobody else's."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from learning import selectors, services
from learning.grading import Grade
from learning.models import Attempt
from tests.accounts.test_consumers import ORIGIN, connect, session_headers
from tests.factories import StudentFactory
from tests.learning.conftest import build_world, free_response_exercise

pytestmark = pytest.mark.django_db(transaction=True)


def answered_free_response(monkeypatch):
    world = build_world()
    lesson, _exercise = free_response_exercise(world)
    monkeypatch.setattr("learning.tasks.grade_attempt.delay", lambda _id: None)
    cmap = selectors.course_map(course=world.course)
    presentation = services.presentation_for_lesson(learner=world.student, lesson=lesson, cmap=cmap)
    services.attempt_submit(presentation=presentation, response="Both times two.")
    return world, Attempt.objects.get()


async def test_grade_reaches_the_learners_socket_only(monkeypatch):
    world, attempt = await database_sync_to_async(answered_free_response)(monkeypatch)
    mine = await database_sync_to_async(session_headers)(world.student)
    other = await database_sync_to_async(StudentFactory)(school=world.school)
    theirs = await database_sync_to_async(session_headers)(other)
    learner, connected, _ = await connect("/ws/learning/", mine)
    assert connected
    bystander, connected, _ = await connect("/ws/learning/", theirs)
    assert connected
    # when the grading task records the grade (after its transaction commits)
    grade = Grade(score=0.9, passed=True, feedback="Well explained.")
    await database_sync_to_async(services.attempt_grade_record)(attempt_id=attempt.id, grade=grade)
    # then the learner's page hears about it, the bystander's does not
    frame = await learner.receive_json_from(timeout=5)
    assert frame == {
        "type": "attempt.graded",
        "attempt": attempt.id,
        "presentation": attempt.presentation_id,
        "status": "correct",
    }
    assert await bystander.receive_nothing(timeout=0.5)
    await learner.disconnect()
    await bystander.disconnect()


async def test_anonymous_learner_socket_is_refused():
    _, connected, _ = await connect("/ws/learning/", [ORIGIN])
    assert not connected
    await asyncio.sleep(0)
