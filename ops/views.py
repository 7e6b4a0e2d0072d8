"""Health endpoints, Prometheus metrics and the school admin's status page."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import Role
from ops import metrics as ops_metrics
from ops import selectors


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches nothing else, so a database outage does
    not get healthy web processes restarted."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database, Redis (when configured) and at least one
    inference worker answer; 503 naming the ones that did not."""
    checks = selectors.readiness()
    failed = [name for name, check in checks.items() if not check.ok]
    return JsonResponse(
        {
            "status": "unavailable" if failed else "ready",
            "failed": failed,
            "checks": {name: check.as_dict() for name, check in checks.items()},
        },
        status=503 if failed else 200,
    )


def _metrics_authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics of this container's web processes, for a scraper presenting
    `Authorization: Bearer <METRICS_TOKEN>`. Without a token configured the page does
    not exist (404), so metrics are never public by accident."""
    if not settings.METRICS_TOKEN:
        raise Http404
    if not _metrics_authorized(request):
        response = HttpResponse("Unauthorized.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(ops_metrics.exposition(), content_type=ops_metrics.CONTENT_TYPE)


@login_required
@require_GET
@never_cache
def status(request: HttpRequest) -> HttpResponse:
    """The school admin's view of the machinery: queues, workers, inference load.
    School admins and superusers only (404 for everyone else)."""
    user = request.user
    if not (user.is_superuser or user.role == Role.SCHOOL_ADMIN):
        raise Http404
    queues = selectors.celery_queue_depths()
    workers = selectors.celery_workers()
    inference = selectors.inference_workers()
    return render(
        request,
        "ops/status.html",
        {
            "database": selectors.database_check(),
            "redis": selectors.redis_check() if settings.REDIS_URL else None,
            "queues": queues,
            "workers": workers,
            "inference": [
                {"name": f"#{number}", **entry}
                for number, entry in enumerate(inference.values(), start=1)
            ],
        },
    )
