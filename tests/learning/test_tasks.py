"""The grading task: retried with backoff while the inference worker is down, then the
attempt is marked as not gradable (never lost); running it twice counts once."""

import time

import pytest

from common.tasks import MAX_RETRY_BACKOFF
from learning import selectors, services
from learning.grading import Grade, GradingError, parse_grade
from learning.models import Attempt, SkillMastery
from learning.tasks import grade_attempt, retry_countdown
from tests.learning.conftest import free_response_exercise

pytestmark = pytest.mark.django_db


@pytest.fixture
def graded_attempt(world, monkeypatch):
    lesson, _exercise = free_response_exercise(world)
    monkeypatch.setattr("learning.tasks.grade_attempt.delay", lambda _id: None)
    cmap = selectors.course_map(course=world.course)
    presentation = services.presentation_for_lesson(learner=world.student, lesson=lesson, cmap=cmap)
    services.attempt_submit(presentation=presentation, response="Both times two.")
    return Attempt.objects.get()


@pytest.fixture
def worker_down(settings):
    """No inference worker listening (a closed port); short retry waits."""
    settings.INFERENCE_URLS = ["http://127.0.0.1:9"]
    settings.LEARNING_GRADING_RETRY_SECONDS = 0.01


def test_worker_down_retries_then_marks_attempt_not_gradable(graded_attempt, worker_down):
    # when the task runs eagerly (the embedded default): quick in-process retries
    result = grade_attempt.apply(args=[graded_attempt.id])
    # then it retried and finally kept the answer, marked as not gradable
    graded_attempt.refresh_from_db()
    assert graded_attempt.status == Attempt.Status.GRADING_FAILED
    assert graded_attempt.answer == "Both times two."
    assert result.get() == Attempt.Status.GRADING_FAILED
    assert SkillMastery.objects.count() == 0


def test_retry_countdown_doubles_and_is_capped(settings):
    settings.LEARNING_GRADING_RETRY_SECONDS = 10
    assert [retry_countdown(n) for n in range(5)] == [10, 20, 40, 80, 160]
    assert retry_countdown(20) == MAX_RETRY_BACKOFF


@pytest.mark.services
def test_on_a_real_worker_grading_retries_through_the_broker(
    transactional_db, celery_live, worker_down, monkeypatch
):
    """Services mode: retries go through Redis with a countdown, then the attempt fails."""
    if celery_live is None:
        pytest.skip("needs REDIS_URL: tasks run eagerly on the embedded default")
    from tests.learning.conftest import build_world

    world = build_world()
    lesson, _exercise = free_response_exercise(world)
    cmap = selectors.course_map(course=world.course)
    presentation = services.presentation_for_lesson(learner=world.student, lesson=lesson, cmap=cmap)
    retries = []
    real_retry = grade_attempt.retry

    def spy(*args, **kwargs):
        retries.append(kwargs["countdown"])
        return real_retry(*args, **kwargs)

    monkeypatch.setattr(grade_attempt, "retry", spy)
    services.attempt_submit(presentation=presentation, response="Both times two.")
    attempt = Attempt.objects.get()
    deadline = time.monotonic() + 60
    while attempt.status == Attempt.Status.GRADING and time.monotonic() < deadline:
        time.sleep(0.2)
        attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.GRADING_FAILED
    assert retries == [0.01, 0.02, 0.04, 0.08, 0.16]


def test_task_on_an_already_graded_attempt_changes_nothing(graded_attempt, monkeypatch):
    services.attempt_grade_record(
        attempt_id=graded_attempt.id, grade=Grade(score=1.0, passed=True, feedback="ok")
    )
    before = SkillMastery.objects.get().p_known

    def must_not_call(**_kwargs):
        raise AssertionError("graded twice")

    monkeypatch.setattr("learning.grading.grade_free_response", must_not_call)
    assert grade_attempt.apply(args=[graded_attempt.id]).get() == "correct"
    assert SkillMastery.objects.get().p_known == before
    assert SkillMastery.objects.get().opportunities == 1


def test_grade_parsing_bounds_and_pass_mark():
    assert parse_grade('{"score": 6, "feedback": "ok  fine"}') == Grade(0.6, True, "ok fine")
    assert parse_grade('{"score": 5, "feedback": ""}').passed is False
    for bad in ("not json", '{"score": 11, "feedback": ""}', '{"feedback": "x"}'):
        with pytest.raises(GradingError):
            parse_grade(bad)
