"""Free-response grading end to end on the real worker (vLLM CPU engine, tiny random
model): the Celery task asks for a rubric grade in the JSON schema, the structured output
parses, the attempt is graded once and mastery moves once."""

import pytest

from learning import selectors, services
from learning.models import Attempt, SkillMastery
from learning.tasks import grade_attempt
from tests.learning.conftest import build_world, free_response_exercise

pytestmark = [pytest.mark.vllm, pytest.mark.django_db]


def test_grading_task_grades_a_free_response_with_the_real_worker(worker, settings, monkeypatch):
    settings.INFERENCE_URLS = [worker.url]
    settings.INFERENCE_API_KEY = worker.api_key
    world = build_world()
    lesson, _exercise = free_response_exercise(world)
    monkeypatch.setattr("learning.tasks.grade_attempt.delay", lambda _id: None)
    presentation = services.presentation_for_lesson(
        learner=world.student, lesson=lesson, cmap=selectors.course_map(course=world.course)
    )
    services.attempt_submit(presentation=presentation, response="Multiply top and bottom by 2.")
    attempt = Attempt.objects.get()
    # when the task runs twice (a redelivery)
    first = grade_attempt.apply(args=[attempt.id]).get()
    second = grade_attempt.apply(args=[attempt.id]).get()
    # then the random model's reply still parsed as a grade (schema-constrained output)
    attempt.refresh_from_db()
    assert first == second == attempt.status
    assert attempt.status in (Attempt.Status.CORRECT, Attempt.Status.INCORRECT)
    assert 0.0 <= attempt.score <= 1.0
    assert attempt.graded_at is not None
    # and mastery moved exactly once
    mastery = SkillMastery.objects.get(learner=world.student, skill=world.skill_a)
    assert mastery.opportunities == 1
