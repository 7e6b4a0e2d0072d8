"""Photos of work sent to the tutor: checked by content, capped, stripped of metadata,
stored under a random name, served only to who may see the conversation, attached to a
message and given to a multimodal model. (Against the real workers: the text-only refusal
in tests/inference/test_tutor_worker.py, the image reaching a vision model in
tests/inference/test_worker_multimodal.py.)"""

import io
import struct
import zlib

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.urls import reverse
from PIL import ExifTags, Image

from tests.factories import StudentFactory, TeacherFactory, enroll
from tests.tutor.conftest import ScriptedStream, frames_until, open_exercise_world, tutor_socket
from tutor import photos
from tutor.models import Turn, TutorPhoto

pytestmark = pytest.mark.django_db


@pytest.fixture
def multimodal():
    """The worker's answer to "do you take images?", as tutor.photos caches it."""
    cache.set(photos._CAPABILITY_KEY, True, 60)


def jpeg_with_gps(size=(64, 48)) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCamera"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
    }
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 10)).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def png_bomb(width=30000, height=30000) -> bytes:
    """A tiny PNG whose header claims width x height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def upload(client, world, data: bytes, name="photo.jpg"):
    url = reverse("tutor:photo_upload", args=[world.lesson.id])
    return client.post(url, {"photo": _named(data, name)})


def _named(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def test_photo_is_stored_without_metadata_under_a_random_name(client, multimodal):
    world, _presentation = open_exercise_world()
    client.force_login(world.student)
    response = upload(client, world, jpeg_with_gps(), name="../../etc/passwd.jpg")
    assert response.status_code == 201, response.content
    photo = TutorPhoto.objects.get(pk=response.json()["id"])
    assert "passwd" not in photo.file.name
    assert photo.file.name.startswith(f"tutor-photos/{photo.session_id}/")
    assert photo.file.name.endswith(".jpg")
    with photo.file.open("rb") as handle, Image.open(handle) as stored:
        assert dict(stored.getexif()) == {}
        assert stored.size == (64, 48)
    served = client.get(response.json()["url"])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"SecretCamera" not in b"".join(served.streaming_content)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"#!/bin/sh\necho not a photo\n" * 10, "Send a photo"),  # renamed non-image
        (b"GIF89a" + b"\0" * 100, "Send a photo"),  # an image type not accepted
        (b"\xff\xd8\xff" + b"\0" * 100, "could not be read"),  # damaged JPEG
        (png_bomb(), "too many pixels"),  # decompression bomb: refused from its header
        (b"\xff\xd8\xff" + b"\0" * (3 * 1024 * 1024), "too large"),  # huge
    ],
)
def test_bad_photos_are_refused_with_a_clear_message(client, multimodal, settings, data, message):
    settings.REQUEST_BODY_MAX_BYTES = 8 * 1024 * 1024
    world, _presentation = open_exercise_world()
    client.force_login(world.student)
    response = upload(client, world, data)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not TutorPhoto.objects.exists()


def test_text_only_model_says_photos_need_a_multimodal_model(client):
    cache.set(photos._CAPABILITY_KEY, False, 60)
    world, _presentation = open_exercise_world()
    client.force_login(world.student)
    response = upload(client, world, jpeg_with_gps())
    assert response.status_code == 400
    assert "can see images" in response.json()["error"]
    assert not TutorPhoto.objects.exists()


def test_photos_are_rate_limited_and_need_access_to_the_lesson(client, multimodal, settings):
    settings.TUTOR_PHOTO_RATE_LIMIT = 1
    world, _presentation = open_exercise_world()
    client.force_login(world.student)
    assert upload(client, world, jpeg_with_gps()).status_code == 201
    limited = upload(client, world, jpeg_with_gps())
    assert limited.status_code == 429
    assert limited["Retry-After"]
    client.force_login(StudentFactory())  # not in the class
    assert upload(client, world, jpeg_with_gps()).status_code == 404


def test_photo_is_served_to_the_class_teacher_only(client, multimodal):
    world, _presentation = open_exercise_world()
    client.force_login(world.student)
    url = upload(client, world, jpeg_with_gps()).json()["url"]
    client.force_login(world.teacher)
    assert client.get(url).status_code == 200
    classmate = StudentFactory()
    enroll(world.classroom, classmate)
    for outsider in (classmate, TeacherFactory()):
        client.force_login(outsider)
        assert client.get(url).status_code == 404


@pytest.mark.django_db(transaction=True)
async def test_photo_goes_with_the_message_to_the_model(scripted, multimodal):
    world, _presentation = await database_sync_to_async(open_exercise_world)()
    photo = await database_sync_to_async(_store_photo)(world)
    other = await database_sync_to_async(_store_photo)(world, other_learner=True)
    scripted.scripts.append(ScriptedStream(["I see your work. Check the second line."]))
    socket, _, _ = await tutor_socket(world)
    # another learner's photo: refused, nothing saved
    await socket.send_json_to({"type": "message.send", "text": "look", "photo_id": other.id})
    assert (await socket.receive_json_from(timeout=5))["type"] == "error"
    await socket.send_json_to({"type": "message.send", "text": "", "photo_id": photo.id})
    frames = await frames_until(socket, "reply.done")
    # the same photo twice: refused
    await socket.send_json_to({"type": "message.send", "text": "again", "photo_id": photo.id})
    assert (await socket.receive_json_from(timeout=5))["type"] == "error"
    await socket.disconnect()
    saved = frames[0]["turn"]
    assert saved["photo_url"] == reverse("tutor:photo", args=[photo.id])
    user_message = scripted.calls[0][-1]
    assert user_message["role"] == "user"
    text_part, image_part = user_message["content"]
    assert text_part["type"] == "text"
    assert image_part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    count = await database_sync_to_async(
        Turn.objects.filter(session__learner=world.student).count
    )()
    assert count == 2


def _store_photo(world, other_learner=False):
    from tutor import services

    learner = world.student
    if other_learner:
        learner = StudentFactory()
        enroll(world.classroom, learner)
    session = services.session_for_lesson(learner=learner, lesson=world.lesson)
    return photos.photo_add(session=session, data=jpeg_with_gps())
