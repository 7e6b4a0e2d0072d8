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
HOST = (b"host", b"localhost")


def session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return [ORIGIN, HOST, (b"cookie", cookie.encode())]


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
    _, connected, code = await connect("/ws/ping/", [ORIGIN, HOST])

    assert not connected
    assert code == CLOSE_UNAUTHENTICATED


async def test_foreign_origin_is_refused():
    user = await database_sync_to_async(StudentFactory)()
    headers = await database_sync_to_async(session_headers)(user)
    headers = [(b"origin", b"https://evil.example")] + [h for h in headers if h != ORIGIN]

    _, connected, _ = await connect("/ws/ping/", headers)

    assert not connected


async def logged_in_headers(origin: str, host: str):
    user = await database_sync_to_async(StudentFactory)()
    headers = await database_sync_to_async(session_headers)(user)
    return [(b"origin", origin.encode()), (b"host", host.encode())] + [
        h for h in headers if h not in (ORIGIN, HOST)
    ]


async def connect_with(origin: str, host: str, scheme: str = "ws") -> bool:
    headers = await logged_in_headers(origin, host)
    communicator = WebsocketCommunicator(application, "/ws/ping/", headers=headers)
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://localhost:3000", "localhost:8000", "ws"),  # another port of the same host
        ("https://localhost:8000", "localhost:8000", "ws"),  # another scheme
        ("http://localhost:8000", "localhost:8000", "wss"),  # a plain page, a TLS socket
        ("http://localhost", "localhost:8000", "ws"),
        ("http://evil.example", "evil.example", "ws"),  # a host not ours (DNS rebinding)
        ("null", "localhost:8000", "ws"),
    ],
)
async def test_socket_from_another_origin_is_refused(origin, host, scheme):
    assert await connect_with(origin, host, scheme) is False


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://localhost:8000", "localhost:8000", "ws"),
        ("https://localhost", "localhost", "wss"),  # behind the TLS proxy
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws"),
    ],
)
async def test_socket_from_the_sites_own_origin_is_accepted(origin, host, scheme):
    assert await connect_with(origin, host, scheme) is True


async def test_socket_from_a_trusted_proxy_origin_is_accepted(settings):
    # given: a proxy on another port that hands the app its own Host
    settings.CSRF_TRUSTED_ORIGINS = ["https://localhost:8443", "https://*.example.org"]
    settings.ALLOWED_HOSTS = ["localhost", ".example.org"]

    assert await connect_with("https://localhost:8443", "localhost:8000") is True
    assert await connect_with("https://tutor.example.org", "localhost:8000") is True
    assert await connect_with("http://tutor.example.org", "localhost:8000") is False
    assert await connect_with("https://localhost:8443", "evil.example") is False


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
