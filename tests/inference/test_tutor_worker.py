"""The tutor socket against the real worker (vLLM CPU engine, tiny random model):
a streamed reply saved after the student's message, resume, cancellation when the tab
closes, and a worker killed mid-reply leaving an incomplete turn and a clear error."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from learning.models import Presentation
from tests.tutor.conftest import frames_until, open_exercise_world, tutor_socket
from tutor.models import Turn

from .conftest import TINY_WORKER_ENV, start_worker, stop_worker

pytestmark = [pytest.mark.vllm, pytest.mark.django_db(transaction=True)]


def reading_world():
    world, presentation = open_exercise_world()
    Presentation.objects.filter(pk=presentation.pk).update(closed_at=timezone.now())
    return world


def turns(world):
    return list(
        Turn.objects.filter(session__learner=world.student)
        .order_by("seq")
        .values_list("seq", "role", "status", "text")
    )


async def test_real_worker_streams_a_reply_that_is_saved_and_resumable(worker, settings):
    settings.INFERENCE_URLS = [worker.url]
    settings.INFERENCE_API_KEY = worker.api_key
    settings.TUTOR_MAX_TOKENS = 24
    world = await database_sync_to_async(reading_world)()
    socket, connected, _ = await tutor_socket(world)
    assert connected
    await socket.send_json_to({"type": "message.send", "text": "What is a fraction?"})
    frames = await frames_until(socket, "reply.done", wait_s=120)
    await socket.disconnect()
    assert [f["type"] for f in frames[:2]] == ["turn.saved", "reply.start"]
    deltas = [f["text"] for f in frames if f["type"] == "reply.delta"]
    assert deltas, "the reply was streamed"
    done = frames[-1]["turn"]
    assert done["status"] == "complete"
    assert "".join(deltas).strip() == done["text"].strip()
    rows = await database_sync_to_async(turns)(world)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (1, "student", "complete"),
        (2, "tutor", "complete"),
    ]
    # a new socket picks up where it left off
    socket, _, _ = await tutor_socket(world)
    await socket.send_json_to({"type": "sync.request", "after": 1})
    listing = await socket.receive_json_from(timeout=10)
    await socket.disconnect()
    assert [t["seq"] for t in listing["turns"]] == [2]


async def test_closing_the_socket_aborts_generation_on_the_real_worker(worker, settings):
    settings.INFERENCE_URLS = [worker.url]
    settings.INFERENCE_API_KEY = worker.api_key
    settings.TUTOR_MAX_TOKENS = 1500
    world = await database_sync_to_async(reading_world)()
    socket, _, _ = await tutor_socket(world)
    await socket.send_json_to({"type": "message.send", "text": "Tell me everything."})
    await frames_until(socket, "reply.delta", wait_s=120)
    await socket.disconnect()
    await asyncio.sleep(0.5)
    rows = await database_sync_to_async(turns)(world)
    assert rows[1][:3] == (2, "tutor", "incomplete")


async def test_worker_killed_mid_reply_leaves_incomplete_turn_and_error_frame(
    tiny_model_dir, tmp_path, settings
):
    own = start_worker(
        {**TINY_WORKER_ENV, "INFERENCE_MODEL": str(tiny_model_dir)}, tmp_path / "worker.log"
    )
    try:
        settings.INFERENCE_URLS = [own.url]
        settings.INFERENCE_API_KEY = own.api_key
        settings.TUTOR_MAX_TOKENS = 1500
        world = await database_sync_to_async(reading_world)()
        socket, _, _ = await tutor_socket(world)
        await socket.send_json_to({"type": "message.send", "text": "Tell me a long story."})
        await frames_until(socket, "reply.delta", wait_s=120)
        own.process.kill()
        frames = await frames_until(socket, "reply.error", wait_s=60)
        await socket.disconnect()
    finally:
        stop_worker(own)
    assert frames[-1]["retryable"] is True
    rows = await database_sync_to_async(turns)(world)
    assert rows[0][:3] == (1, "student", "complete")
    assert rows[1][:3] == (2, "tutor", "incomplete")


@pytest.mark.django_db(transaction=True)
def test_a_text_only_model_refuses_photos_with_a_clear_message(worker, settings, client):
    """The capability comes from the real worker (tiny text-only model): the upload is
    refused, saying photos need a model that can see images, and nothing is stored."""
    from django.urls import reverse

    from tests.tutor.test_photos import _named, jpeg_with_gps
    from tutor.models import TutorPhoto

    settings.INFERENCE_URLS = [worker.url]
    settings.INFERENCE_API_KEY = worker.api_key
    world, _presentation = open_exercise_world()
    client.force_login(world.student)
    response = client.post(
        reverse("tutor:photo_upload", args=[world.lesson.id]),
        {"photo": _named(jpeg_with_gps(), "work.jpg")},
    )
    assert response.status_code == 400
    assert "can see images" in response.json()["error"]
    assert not TutorPhoto.objects.exists()
