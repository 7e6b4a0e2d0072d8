"""Request metrics: one count and one latency sample per answered request."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ops import metrics

# Requests no URL pattern matched (404s, probes for /wp-login.php) share one label, so
# the number of series stays bounded whatever clients ask for.
UNRESOLVED = "<unresolved>"


class RequestMetricsMiddleware:
    """Count requests and time them by view name (`accounts:dashboard`), never by path:
    paths carry ids and would make one series per object."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match is not None and match.view_name else UNRESOLVED
        metrics.http_request_duration.labels(view=view).observe(time.perf_counter() - started)
        metrics.http_requests.labels(
            view=view, method=_method(request.method), status=str(response.status_code)
        ).inc()
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _method(method: str | None) -> str:
    return method if method in _METHODS else "other"
