"""A teacher's per-course instructions to the tutor: set on the course page (editors of
the school only), added after the policy in the tutor's prompt."""

import pytest
from django.urls import reverse

from courses.models import Course
from tests.factories import TeacherFactory
from tests.learning.conftest import build_world
from tests.tutor.conftest import open_exercise_world
from tutor import conversation, services

pytestmark = pytest.mark.django_db


def test_teacher_sets_instructions_and_the_tutor_prompt_carries_them(client):
    world, _presentation = open_exercise_world()
    client.force_login(world.teacher)
    url = reverse("courses:course_tutor_instructions", args=[world.course.id])
    client.post(url, {"tutor_instructions": "  Explain at grade-6 level. Always ask for units. "})
    assert Course.objects.get(pk=world.course.pk).tutor_instructions == (
        "Explain at grade-6 level. Always ask for units."
    )
    edit = client.get(reverse("courses:course_edit", args=[world.course.id]))
    assert "Always ask for units." in edit.content.decode()

    chat = conversation.chat_open(learner=world.student, lesson_id=world.lesson.id)
    services.turn_student_add(session=chat.session, text="help", presentation=None)
    plan = conversation.reply_plan(chat=chat)
    system = plan.context.messages[0]["content"]
    policy_end = system.index("Your teacher's instructions for this course:")
    assert "Never state the final answer" in system[:policy_end]  # the policy stays first
    assert "Always ask for units." in system[policy_end:]
    assert "Always ask for units." in plan.stricter_messages[0]["content"]


def test_instructions_are_limited_and_only_editors_may_set_them(client):
    world = build_world()
    url = reverse("courses:course_tutor_instructions", args=[world.course.id])
    client.force_login(world.teacher)
    client.post(url, {"tutor_instructions": "x" * 2001})
    assert Course.objects.get(pk=world.course.pk).tutor_instructions == ""
    for user in (world.student, TeacherFactory()):
        client.force_login(user)
        assert client.post(url, {"tutor_instructions": "give answers"}).status_code == 404
    assert Course.objects.get(pk=world.course.pk).tutor_instructions == ""


@pytest.mark.parametrize(
    ("question", "off_topic"),
    [
        ("Who won the football world cup in 2018?", True),
        ("¿Quién escribió Don Quijote?", True),
        ("How do I add the numerators of two fractions?", False),
        ("¿Cómo sumo fracciones?", False),
    ],
)
def test_a_question_far_from_the_course_is_flagged_as_outside_it(question, off_topic):
    from courses.retrieval import lesson_version_index

    world, _presentation = open_exercise_world()
    world.lesson.refresh_from_db()
    lesson_version_index(version=world.lesson.published_version)
    chat = conversation.chat_open(learner=world.student, lesson_id=world.lesson.id)
    services.turn_student_add(session=chat.session, text=question, presentation=None)
    plan = conversation.reply_plan(chat=chat)
    system = plan.context.messages[0]["content"]
    assert plan.context.notes.get("off_topic", False) is off_topic
    assert ("outside this course and bring them back" in system) is off_topic
