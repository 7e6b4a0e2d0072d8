"""Sockets through the real ASGI stack: origin check, session auth, tenant isolation."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts import services
from accounts.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from config.asgi import application
from tests.factories import ClassroomFactory, StudentFactory, TeacherFactory

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


def session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return [ORIGIN, (b"cookie", cookie.encode())]


async def connect(path: str, headers) -> tuple[WebsocketCommunicator, bool, int | None]:
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_ping_answers_authenticated_user():
    user = await database_sync_to_async(StudentFactory)()
    headers = await database_sync_to_async(session_headers)(user)
    communicator, connected, _ = await connect("/ws/ping/", headers)
    assert connected

    await communicator.send_json_to({"type": "ping.send", "nonce": 7})
    reply = await communicator.receive_json_from()
    await communicator.send_to(text_data="not json")
    error = await communicator.receive_json_from()
    await communicator.disconnect()

    assert reply == {"type": "ping.reply", "nonce": 7, "user": user.id}
    assert error["type"] == "error"


async def test_anonymous_socket_is_refused():
    _, connected, code = await connect("/ws/ping/", [ORIGIN])

    assert not connected
    assert code == CLOSE_UNAUTHENTICATED


async def test_foreign_origin_is_refused():
    user = await database_sync_to_async(StudentFactory)()
    headers = await database_sync_to_async(session_headers)(user)
    headers = [(b"origin", b"https://evil.example")] + [h for h in headers if h != ORIGIN]

    _, connected, _ = await connect("/ws/ping/", headers)

    assert not connected


async def test_teacher_of_other_school_gets_404_close_on_class_socket():
    classroom = await database_sync_to_async(ClassroomFactory)()
    outsider = await database_sync_to_async(TeacherFactory)()
    headers = await database_sync_to_async(session_headers)(outsider)

    _, connected, code = await connect(f"/ws/classrooms/{classroom.id}/", headers)

    assert not connected
    assert code == CLOSE_NOT_FOUND


async def test_teacher_socket_receives_student_join_after_commit():
    classroom = await database_sync_to_async(ClassroomFactory)()
    teacher = await database_sync_to_async(lambda: classroom.teacher)()
    headers = await database_sync_to_async(session_headers)(teacher)
    communicator, connected, _ = await connect(f"/ws/classrooms/{classroom.id}/", headers)
    assert connected
    student = await database_sync_to_async(StudentFactory)(display_name="Noor")

    await database_sync_to_async(services.classroom_join)(student=student, code=classroom.join_code)
    event = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()

    assert event == {"type": "member.joined", "student": {"id": student.id, "name": "Noor"}}
