"""Request bodies are capped in the ASGI application itself (config.asgi), before Django
reads them: neither uvicorn nor Daphne has a cap of its own."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from config.asgi import UPLOAD_FORM_BYTES, application
from courses.models import Course
from courses.packages import MAX_PACKAGE_BYTES
from tests.factories import TeacherFactory

CHUNK = b"\0" * (1024 * 1024)
CSRF = "c" * 32  # an unmasked CSRF secret: valid as the cookie and as the header


async def call(path: str, chunks, headers=()) -> tuple[int, bytes, int]:
    """POST the body `chunks` (an iterator of bytes) to the ASGI application; (status,
    body, bytes of the request body the application pulled)."""
    pulled = 0
    sent: list[dict] = []
    chunks = iter(chunks)
    finished = False

    async def receive():
        nonlocal pulled, finished
        if finished:  # the client stays connected until the response is done
            await asyncio.Future()
        chunk = next(chunks, None)
        finished = chunk is None
        pulled += len(chunk or b"")
        return {"type": "http.request", "body": chunk or b"", "more_body": not finished}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    await application(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body, pulled


async def post(path: str, *, body_size: int, declare_length: bool = True):
    """POST `body_size` bytes of zeros, in 1 MiB messages."""
    chunks = (CHUNK[: min(len(CHUNK), body_size - n)] for n in range(0, body_size, len(CHUNK)))
    headers = [(b"content-length", str(body_size).encode())] if declare_length else []
    return await call(path, chunks, headers)


async def test_large_declared_body_is_refused_before_any_of_it_is_read():
    status, body, pulled = await post(reverse("accounts:login"), body_size=100 * 1024 * 1024)

    assert status == 413
    assert body == b"Request body too large.\n"
    assert pulled == 0


async def test_large_streamed_body_is_refused_once_past_the_limit():
    status, _, pulled = await post(
        reverse("accounts:login"), body_size=100 * 1024 * 1024, declare_length=False
    )

    assert status == 413
    assert pulled <= settings.REQUEST_BODY_MAX_BYTES + len(CHUNK)


@pytest.mark.django_db(transaction=True)
async def test_form_fields_past_the_data_limit_are_refused_unparsed():
    # given: a log-in form within the body limit whose fields pass Django's own
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024
    assert size < settings.REQUEST_BODY_MAX_BYTES
    body = b"email=" + b"a" * size + b"&password=x"
    headers = [
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(body)).encode()),
        (b"cookie", f"csrftoken={CSRF}".encode()),
        (b"x-csrftoken", CSRF.encode()),
    ]
    # when
    status, page, pulled = await call(reverse("accounts:login"), [body], headers)
    # then: read (it is within the body limit), but not parsed: no log-in form answered
    assert (status, pulled) == (400, len(body))
    assert b"<form" not in page


def test_documented_limits_are_the_configured_ones():
    admin_guide = (settings.BASE_DIR / "docs" / "admin.md").read_text()
    mib = 1024 * 1024
    configured = (
        settings.REQUEST_BODY_MAX_BYTES,
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
    )

    assert configured == (3 * mib, 2 * mib, 2 * mib)
    assert "| request body, any page | 3 MiB" in admin_guide
    assert "| 2 MiB / 1000 / 1 | `DATA_UPLOAD_MAX_*` |" in admin_guide
    assert "| 2 MiB | `FILE_UPLOAD_MAX_MEMORY_SIZE` |" in admin_guide
    assert f"{(MAX_PACKAGE_BYTES + UPLOAD_FORM_BYTES) // mib} MiB" in admin_guide


def multipart_package(size: int) -> tuple[bytes, bytes]:
    """(content type, body) of the import form carrying a `size`-byte file."""
    boundary = b"exocortex-test-boundary"
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="package"; filename="course.zip"\r\n'
        b"Content-Type: application/zip\r\n\r\n" + b"0" * size + b"\r\n--" + boundary + b"--\r\n"
    )
    return b"multipart/form-data; boundary=" + boundary, body


@pytest.mark.django_db(transaction=True)
async def test_package_upload_up_to_its_own_limit_reaches_the_import_page():
    # given: a teacher's session and a file of exactly MAX_PACKAGE_BYTES (not a zip)
    teacher = await database_sync_to_async(TeacherFactory)()
    client = Client()
    await database_sync_to_async(client.force_login)(teacher)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    content_type, body = multipart_package(MAX_PACKAGE_BYTES)
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}; csrftoken={CSRF}".encode()),
        (b"x-csrftoken", CSRF.encode()),
    ]
    chunks = (body[n : n + len(CHUNK)] for n in range(0, len(body), len(CHUNK)))
    # when
    status, page, pulled = await call(reverse("courses:course_import"), chunks, headers)
    # then: the page itself answered, about the file's content
    assert (status, pulled) == (400, len(body))
    assert b"This is not a zip file." in page
    assert await database_sync_to_async(Course.objects.count)() == 0


async def test_package_upload_past_its_own_limit_is_refused():
    status, _, pulled = await post(
        reverse("courses:course_import"), body_size=MAX_PACKAGE_BYTES + UPLOAD_FORM_BYTES + 1
    )

    assert (status, pulled) == (413, 0)


@pytest.mark.django_db
def test_import_form_takes_one_file(client):
    client.force_login(TeacherFactory())
    files = [SimpleUploadedFile(f"{n}.zip", b"PK", "application/zip") for n in range(2)]

    response = client.post(reverse("courses:course_import"), {"package": files})

    assert response.status_code == 400
    assert Course.objects.count() == 0
