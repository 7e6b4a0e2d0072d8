"""Learner memory: distilled from new turns only (idempotent, bounded input), notes with
personal data dropped, a worker that is down loses nothing, the tutor's next prompt
carries the memory, beat runs it nightly, and the class's teacher sees and deletes it.

The model is scripted here (a structured-output stand-in for common.inference's client);
tests/inference/test_memory_worker.py runs the same service on the real worker."""

import json
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from inference.client import Completion
from inference.errors import InferenceUnavailable
from tests.factories import StudentFactory, TeacherFactory, enroll
from tests.learning.conftest import build_world
from tutor import conversation, services
from tutor.memory import (
    ITEM_MAX_CHARS,
    ITEMS_MAX,
    memory_delete,
    memory_distil,
    memory_for_prompt,
    memory_pending,
)
from tutor.models import LearnerMemory, Turn
from tutor.tasks import distil_memories, distil_memory

pytestmark = pytest.mark.django_db


@dataclass
class ScriptedCompletions:
    """Stands in for common.inference.inference_client on the non-streaming structured
    call: each `complete` takes the next reply (JSON text, or an exception to raise)."""

    replies: list = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)

    def __call__(self, **_kwargs):
        return self

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    async def complete(self, messages, **kwargs):
        self.calls.append({"messages": messages, **kwargs})
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return Completion(text=reply, finish_reason="stop", worker="scripted")

    def transcript(self, index: int = -1) -> str:
        return self.calls[index]["messages"][-1]["content"]


@pytest.fixture
def model(monkeypatch):
    scripted = ScriptedCompletions()
    monkeypatch.setattr("tutor.memory.inference_client", scripted)
    return scripted


def notes(misconceptions=(), helped=(), interests=()) -> str:
    return json.dumps(
        {
            "misconceptions": list(misconceptions),
            "helped": list(helped),
            "interests": list(interests),
        }
    )


def talk(world, *texts, learner=None, age=timedelta(hours=2)) -> list[Turn]:
    """Alternate student and tutor turns on the world's lesson, written `age` ago."""
    session = services.session_for_lesson(learner=learner or world.student, lesson=world.lesson)
    turns = []
    for index, text in enumerate(texts):
        if index % 2 == 0:
            turns.append(services.turn_student_add(session=session, text=text, presentation=None))
        else:
            turns.append(
                services.turn_tutor_add(session=session, text=text, presentation=None, notes={})
            )
    Turn.objects.filter(pk__in=[t.pk for t in turns]).update(created_at=timezone.now() - age)
    return turns


def test_distils_new_turns_once_and_a_rerun_reads_nothing(model):
    world = build_world()
    turns = talk(world, "Is 1/2 + 1/3 = 2/5?", "What do the denominators say?", "Oh, 5/6!")
    model.replies.append(
        notes(["Adds denominators of fractions"], ["Asking about denominators"], ["pizza"])
    )
    # when the memory is distilled
    memory = memory_distil(learner=world.student, course=world.course)
    # then one structured call read the conversation, oldest first
    assert len(model.calls) == 1
    call = model.calls[0]
    assert call["json_schema"]["properties"]["misconceptions"]["maxItems"] == ITEMS_MAX
    assert call["request_class"] == "authoring"
    assert model.transcript().splitlines()[2:5] == [
        "Student: Is 1/2 + 1/3 = 2/5?",
        "Tutor: What do the denominators say?",
        "Student: Oh, 5/6!",
    ]
    assert memory.misconceptions == ["Adds denominators of fractions"]
    assert memory.helped == ["Asking about denominators"]
    assert memory.interests == ["pizza"]
    assert memory.source_until == turns[-1].id
    # when it runs again with nothing new: no call, nothing changed
    assert memory_distil(learner=world.student, course=world.course) is None
    assert distil_memory.apply(args=[world.student.id, world.course.id]).get() == "unchanged"
    assert len(model.calls) == 1
    assert LearnerMemory.objects.get().misconceptions == ["Adds denominators of fractions"]
    # when new turns come: only they are read, and the notes merge newest first
    later = talk(world, "I like football", age=timedelta(hours=1))
    model.replies.append(notes(["Adds denominators of fractions", "Forgets to simplify"]))
    memory = memory_distil(learner=world.student, course=world.course)
    assert "Is 1/2" not in model.transcript()
    assert "Student: I like football" in model.transcript()
    assert memory.misconceptions == ["Adds denominators of fractions", "Forgets to simplify"]
    assert memory.interests == ["pizza"]
    assert memory.source_until == later[-1].id


def test_turns_still_settling_are_left_for_the_next_night(model):
    world = build_world()
    talk(world, "just now", age=timedelta(minutes=1))
    assert memory_distil(learner=world.student, course=world.course) is None
    assert memory_pending() == []
    assert model.calls == []


def test_a_learner_with_500_turns_sends_at_most_the_caps(model, settings):
    settings.TUTOR_MEMORY_SOURCE_TURNS = 40
    settings.TUTOR_MEMORY_SOURCE_CHARS = 3000
    world = build_world()
    session = services.session_for_lesson(learner=world.student, lesson=world.lesson)
    Turn.objects.bulk_create(
        Turn(session=session, seq=seq, role="student", text=f"message {seq} " + "x" * 50)
        for seq in range(1, 501)
    )
    Turn.objects.update(created_at=timezone.now() - timedelta(hours=3))
    model.replies.append(notes(["x"]))
    memory = memory_distil(learner=world.student, course=world.course)
    lines = model.transcript().split("<<<\n")[1].split("\n>>>")[0].splitlines()
    # the newest turns, within both caps, oldest of them first
    assert 0 < len(lines) <= 40
    assert sum(len(line) + 1 for line in lines) <= 3000
    assert lines[-1].startswith("Student: message 500 ")
    assert memory.source_until == Turn.objects.get(seq=500).id
    # and the turns past the caps are not read on a later night either
    assert memory_distil(learner=world.student, course=world.course) is None
    assert len(model.calls) == 1


def test_notes_with_personal_data_or_flags_are_dropped_and_lists_capped(model):
    world = build_world()
    talk(world, "hi")
    model.replies.append(
        notes(
            misconceptions=[f"mistake {n}" for n in range(4)] + ["y" * 400],
            helped=["Call her on +34 612 345 678", "Write to ana@example.org", "Drawing it"],
            interests=["Lives at 12 Baker Street", "wants to kill myself", "  space   rockets "],
        )
    )
    memory = memory_distil(learner=world.student, course=world.course)
    assert memory.misconceptions == [*(f"mistake {n}" for n in range(4)), "y" * ITEM_MAX_CHARS]
    assert memory.helped == ["Drawing it"]
    assert memory.interests == ["space rockets"]
    stored = json.dumps([memory.misconceptions, memory.helped, memory.interests])
    for private in ("612", "ana@", "Baker", "kill"):
        assert private not in stored
    # merged with what was there before, still capped
    talk(world, "more", age=timedelta(hours=1))
    model.replies.append(notes(["new one", "mistake 2"]))
    memory = memory_distil(learner=world.student, course=world.course)
    assert memory.misconceptions == ["new one", "mistake 2", "mistake 0", "mistake 1", "mistake 3"]


@pytest.fixture
def worker_down(settings):
    """No inference worker listening (a closed port); short retry waits."""
    settings.INFERENCE_URLS = ["http://127.0.0.1:9"]
    settings.LEARNING_GRADING_RETRY_SECONDS = 0.01


def test_worker_down_retries_then_keeps_the_turns_for_the_next_run(worker_down, monkeypatch):
    world = build_world()
    turns = talk(world, "Is 1/2 + 1/3 = 2/5?")
    # when the task runs eagerly (the embedded default) while the worker is down
    assert distil_memory.apply(args=[world.student.id, world.course.id]).get() == "unavailable"
    # then nothing was stored and the turns were not marked read
    assert LearnerMemory.objects.count() == 0
    assert memory_pending() == [(world.student.id, world.course.id)]
    # when the worker is back
    scripted = ScriptedCompletions(replies=[notes(["Adds denominators"])])
    monkeypatch.setattr("tutor.memory.inference_client", scripted)
    assert distil_memory.apply(args=[world.student.id, world.course.id]).get() == "distilled"
    memory = LearnerMemory.objects.get()
    assert "Is 1/2 + 1/3 = 2/5?" in scripted.transcript()
    assert (memory.misconceptions, memory.source_until) == (["Adds denominators"], turns[-1].id)


def test_eager_retries_then_succeeds_and_unusable_reply_changes_nothing(model, settings):
    settings.LEARNING_GRADING_RETRY_SECONDS = 0.01
    world = build_world()
    talk(world, "hello")
    model.replies += [InferenceUnavailable("starting"), "not json {"]
    assert distil_memory.apply(args=[world.student.id, world.course.id]).get() == "failed"
    assert len(model.calls) == 2
    assert LearnerMemory.objects.count() == 0
    model.replies += [InferenceUnavailable("down"), notes(helped=["Diagrams"])]
    assert distil_memory.apply(args=[world.student.id, world.course.id]).get() == "distilled"
    assert LearnerMemory.objects.get().helped == ["Diagrams"]


def test_nightly_task_queues_only_learners_with_unread_turns(model, monkeypatch):
    world = build_world()
    other = StudentFactory()
    enroll(world.classroom, other)
    talk(world, "first")
    talk(world, "mine", learner=other)
    model.replies.append(notes(["a"]))
    memory_distil(learner=world.student, course=world.course)  # up to date
    queued = []
    monkeypatch.setattr(
        "tutor.tasks.distil_memory.delay", lambda *args: queued.append(args) or _Result()
    )
    assert distil_memories.apply().get() == 1
    assert queued == [(other.id, world.course.id)]


class _Result:
    def get(self):
        return "distilled"


def test_beat_runs_the_distillation_nightly_at_the_configured_hour():
    from config.celery import app

    entry = django_settings.CELERY_BEAT_SCHEDULE["tutor-distil-memories"]
    assert entry["task"] == "tutor.tasks.distil_memories"
    assert entry["schedule"] == crontab(hour=django_settings.TUTOR_MEMORY_HOUR, minute=0)
    assert "tutor.tasks.distil_memories" in app.tasks
    assert "learning-fit-skill-params" in django_settings.CELERY_BEAT_SCHEDULE


def test_the_next_reply_prompt_carries_the_memory(model):
    world = build_world()
    talk(world, "hi")
    model.replies.append(notes(["Adds denominators"], ["Pizza slices"], ["football"]))
    memory_distil(learner=world.student, course=world.course)
    text = memory_for_prompt(learner=world.student, course=world.course)
    assert text == (
        "Mistakes seen before: Adds denominators\n"
        "What helped before: Pizza slices\n"
        "Interests: football"
    )
    chat = conversation.chat_open(learner=world.student, lesson_id=world.lesson.id)
    services.turn_student_add(session=chat.session, text="help", presentation=None)
    plan = conversation.reply_plan(chat=chat)
    system = plan.context.messages[0]["content"]
    assert "# About this learner\n" + text in system
    assert system.index("# Lesson:") < system.index("# About this learner")
    assert "# About this learner\n" + text in plan.stricter_messages[0]["content"]
    # another learner's prompt has none of it
    assert memory_for_prompt(learner=StudentFactory(), course=world.course) == ""


# --- teachers -------------------------------------------------------------------------------


def transcript_url(world, session, name="tutor:transcript"):
    return reverse(name, kwargs={"classroom_id": world.classroom.id, "session_id": session.id})


def test_class_teacher_sees_the_memory_and_others_do_not(client, model):
    world = build_world()
    talk(world, "hi")
    model.replies.append(notes(["Adds denominators"], ["Pizza slices"], ["football"]))
    memory_distil(learner=world.student, course=world.course)
    session = services.session_for_lesson(learner=world.student, lesson=world.lesson)
    client.force_login(world.teacher)
    body = client.get(transcript_url(world, session)).content.decode()
    assert 'data-testid="memory"' in body
    for item in ("Adds denominators", "Pizza slices", "football", "Delete memory"):
        assert item in body
    for user in (TeacherFactory(), world.student):
        client.force_login(user)
        response = client.get(transcript_url(world, session))
        assert response.status_code == 404
        assert "Adds denominators" not in response.content.decode()
        client.post(
            transcript_url(world, session, "tutor:transcript_action"), {"action": "memory_delete"}
        )
        assert LearnerMemory.objects.get().misconceptions == ["Adds denominators"]


def test_teacher_deletes_the_memory_and_it_does_not_come_back(client, model):
    world = build_world()
    turns = talk(world, "hi")
    model.replies.append(notes(["Adds denominators"], interests=["football"]))
    memory_distil(learner=world.student, course=world.course)
    session = services.session_for_lesson(learner=world.student, lesson=world.lesson)
    client.force_login(world.teacher)
    client.post(
        transcript_url(world, session, "tutor:transcript_action"), {"action": "memory_delete"}
    )
    memory = LearnerMemory.objects.get()
    assert (memory.misconceptions, memory.helped, memory.interests) == ([], [], [])
    assert memory.deleted_by == world.teacher
    assert memory.source_until == turns[-1].id
    body = client.get(transcript_url(world, session)).content.decode()
    assert "Adds denominators" not in body
    assert "Delete memory" not in body
    assert memory_for_prompt(learner=world.student, course=world.course) == ""
    # the same turns are not distilled again
    assert memory_distil(learner=world.student, course=world.course) is None
    assert len(model.calls) == 1


def test_deleting_while_a_distillation_runs_keeps_the_deleted_notes_out(model, monkeypatch):
    world = build_world()
    talk(world, "hi")
    model.replies.append(notes(["old note"]))
    memory = memory_distil(learner=world.student, course=world.course)
    talk(world, "more", age=timedelta(hours=1))
    teacher = world.teacher

    def reply_after_a_delete(*_args):
        time.sleep(0.01)
        memory_delete(memory=memory, by=teacher)
        return notes(["from before the delete"])

    monkeypatch.setattr("tutor.memory.async_to_sync", lambda _fn: reply_after_a_delete)
    memory = memory_distil(learner=world.student, course=world.course)
    assert memory.is_empty
    assert memory.source_until == Turn.objects.order_by("-id").first().id


@pytest.mark.services
def test_on_a_real_worker_the_task_retries_through_the_broker(
    transactional_db, celery_live, worker_down, monkeypatch
):
    """Services mode: retries go through Redis with a growing countdown, then the task
    gives up with nothing stored and the turns still unread."""
    if celery_live is None:
        pytest.skip("needs REDIS_URL: tasks run eagerly on the embedded default")
    import tutor.memory

    world = build_world()
    talk(world, "Is 1/2 + 1/3 = 2/5?")
    retries, runs = [], []
    real_retry, real_distil = distil_memory.retry, tutor.memory.memory_distil

    def spy_retry(*args, **kwargs):
        retries.append(kwargs["countdown"])
        return real_retry(*args, **kwargs)

    def spy_distil(**kwargs):
        runs.append(1)
        return real_distil(**kwargs)

    monkeypatch.setattr(distil_memory, "retry", spy_retry)
    monkeypatch.setattr(tutor.memory, "memory_distil", spy_distil)
    distil_memory.delay(world.student.id, world.course.id)
    deadline = time.monotonic() + 60
    while len(runs) < 6 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    assert retries == [0.01, 0.02, 0.04, 0.08, 0.16]
    assert len(runs) == 6
    assert LearnerMemory.objects.count() == 0
    assert memory_pending() == [(world.student.id, world.course.id)]
