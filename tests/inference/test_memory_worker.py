"""Learner memory on the real worker (vLLM CPU engine, tiny random model): the notes are
nonsense, but the structured output parses against the memory schema, every note is
within the caps, and the memory row records the turns it read."""

import pytest

from tests.learning.conftest import build_world
from tests.tutor.test_memory import talk
from tutor.memory import FIELDS, ITEM_MAX_CHARS, ITEMS_MAX, memory_distil
from tutor.models import LearnerMemory

pytestmark = [pytest.mark.vllm, pytest.mark.django_db]


def test_memory_is_distilled_with_the_real_worker(worker, settings):
    settings.INFERENCE_URLS = [worker.url]
    settings.INFERENCE_API_KEY = worker.api_key
    world = build_world()
    turns = talk(world, "Is 1/2 + 1/3 = 2/5?", "What do the denominators say?", "Oh, 5/6!")
    # when the memory is distilled
    memory = memory_distil(learner=world.student, course=world.course)
    # then the reply parsed (schema-constrained output) and the row was written
    stored = LearnerMemory.objects.get(learner=world.student, course=world.course)
    assert stored.pk == memory.pk
    assert stored.source_until == turns[-1].id
    for name in FIELDS:
        items = getattr(stored, name)
        assert isinstance(items, list)
        assert len(items) <= ITEMS_MAX
        assert all(isinstance(i, str) and 0 < len(i) <= ITEM_MAX_CHARS for i in items)
    # and a rerun reads nothing new
    assert memory_distil(learner=world.student, course=world.course) is None
