"""Prometheus metrics of the Django side: web requests, sockets, tutor replies, Celery tasks.

The metric objects live in this module's own registry, created once at import (the
prometheus-client way: they are counters, not application state). Several processes
(uvicorn `--workers`, Celery's prefork children) each count for themselves; with
PROMETHEUS_MULTIPROC_DIR set, every process writes its values to files there and
`exposition()` sums them, so one scrape sees all processes of a container. The directory
must be empty when the container starts (deploy/entrypoint.sh wipes it).
"""

from __future__ import annotations

from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

registry = CollectorRegistry()

http_requests = Counter(
    "exocortex_http_requests",
    "HTTP requests answered by Django, by view name, method and status code",
    ["view", "method", "status"],
    registry=registry,
)
http_request_duration = Histogram(
    "exocortex_http_request_duration_seconds",
    "Time Django took to answer, by view name",
    ["view"],
    buckets=_LATENCY_BUCKETS,
    registry=registry,
)
websocket_connections = Gauge(
    "exocortex_websocket_connections",
    "WebSocket connections open now, by route (tutor, learning, accounts)",
    ["route"],
    multiprocess_mode="livesum",
    registry=registry,
)
websocket_connections_opened = Counter(
    "exocortex_websocket_connections_opened",
    "WebSocket connections accepted, by route",
    ["route"],
    registry=registry,
)
tutor_replies = Counter(
    "exocortex_tutor_replies",
    "Tutor replies by outcome: done, error (the student may retry), withheld (the answer "
    "guard cleared a draft and the tutor wrote it again)",
    ["outcome"],
    registry=registry,
)
celery_tasks = Counter(
    "exocortex_celery_tasks",
    "Celery tasks finished, by task name and state (SUCCESS, FAILURE, RETRY, ...)",
    ["task", "state"],
    registry=registry,
)
celery_task_duration = Histogram(
    "exocortex_celery_task_duration_seconds",
    "Run time of Celery tasks, by task name",
    ["task"],
    buckets=_TASK_BUCKETS,
    registry=registry,
)


def exposition_registry() -> CollectorRegistry:
    """The registry a scrape reads: every process's values (multiprocess mode), or this
    process's own."""
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return registry
    combined = CollectorRegistry()
    MultiProcessCollector(combined, path=settings.PROMETHEUS_MULTIPROC_DIR)
    return combined


def exposition() -> bytes:
    """The metrics in Prometheus' text format."""
    return generate_latest(exposition_registry())
