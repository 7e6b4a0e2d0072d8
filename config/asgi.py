"""ASGI entry point: HTTP through Django, WebSockets through Channels consumers.

HTTP requests pass RequestBodyLimit: neither uvicorn (compose) nor Daphne (`runserver`)
caps request bodies, and Django reads a whole body before any view can refuse it.

Sockets pass SameOriginValidator (refuses pages of other origins) and
AuthMiddlewareStack (session user on `scope["user"]`); each consumer refuses anonymous
users itself.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

# Django must be set up before consumers (and the models they import) are loaded.
django_asgi_app = get_asgi_application()

from collections.abc import Mapping  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http.request import split_domain_port, validate_host  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils.http import is_same_domain  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from courses.packages import MAX_PACKAGE_BYTES  # noqa: E402
from ops.asgi import WebsocketMetrics  # noqa: E402

# Room for the multipart form around an uploaded package (boundaries, CSRF token).
UPLOAD_FORM_BYTES = 1024 * 1024


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


class _BodyTooLarge(Exception):
    pass


class RequestBodyLimit:
    """Answer 413 to an HTTP request whose body is larger than its path's limit:
    settings.REQUEST_BODY_MAX_BYTES, or `path_limits[path]` (uploads). A declared
    Content-Length is refused before any of the body is read; a chunked body is counted
    as it streams in and refused once past the limit."""

    def __init__(self, app, *, path_limits: Mapping[str, int]) -> None:
        self.app = app
        self.path_limits = path_limits

    async def __call__(self, scope, receive, send) -> None:
        limit = self.path_limits.get(scope["path"], settings.REQUEST_BODY_MAX_BYTES)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(send)
            return
        received = 0

        async def receive_within_limit():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, receive_within_limit, send)
        except _BodyTooLarge:
            # Django reads the whole body before it starts a response: none was sent yet.
            await self._refuse(send)

    @staticmethod
    async def _refuse(send) -> None:
        body = b"Request body too large.\n"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def origin_allowed(scope) -> bool:
    """Whether a WebSocket handshake comes from one of this site's own pages, by the rule
    Django's CSRF check applies to form posts: the Origin is exactly the socket's own
    scheme and Host (port included), or listed in CSRF_TRUSTED_ORIGINS (a proxy on
    another scheme or port); and the Host is one of ALLOWED_HOSTS, or any page could
    make its own name point here (DNS rebinding) and pass as "same origin"."""
    origin = _header(scope, b"origin")
    host = _header(scope, b"host")
    if not origin or not host:
        return False
    domain, _port = split_domain_port(host)
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:  # what Django's request.get_host() allows
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
    if not domain or not validate_host(domain, allowed_hosts):
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    if origin in (f"{scheme}://{host}", *settings.CSRF_TRUSTED_ORIGINS):
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        parsed.scheme == urlsplit(trusted).scheme
        and is_same_domain(parsed.netloc, urlsplit(trusted).netloc.lstrip("*"))
        for trusted in settings.CSRF_TRUSTED_ORIGINS
        if "*" in trusted
    )


class SameOriginValidator:
    """Close a WebSocket handshake that origin_allowed() refuses, before the app sees it."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if origin_allowed(scope):
            await self.app(scope, receive, send)
        else:
            await WebsocketDenier()(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(
            django_asgi_app,
            path_limits={reverse("courses:course_import"): MAX_PACKAGE_BYTES + UPLOAD_FORM_BYTES},
        ),
        "websocket": WebsocketMetrics(
            SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
