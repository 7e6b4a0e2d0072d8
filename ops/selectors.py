"""What the health endpoints and the status page report. Reads only; every check has
a short timeout and reports a failure instead of raising."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection

from common.inference import inference_client

# Seconds each dependency may take before it counts as down. A readiness probe answers
# within about their sum; the status page likewise.
REDIS_TIMEOUT_S = 1.0
INFERENCE_TIMEOUT_S = 2.0
WORKER_PING_TIMEOUT_S = 1.0

# kombu's Redis transport keeps a queue's prioritised messages in sibling lists named
# queue + separator + priority step (kombu.transport.redis).
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.detail}


def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )


def database_check() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        return Check(False, {"error": type(exc).__name__})
    return Check(True)


def redis_check() -> Check:
    try:
        with _redis() as client:
            client.ping()
    except redis.RedisError as exc:
        return Check(False, {"error": type(exc).__name__})
    return Check(True)


async def _inference_health() -> dict[str, dict[str, Any]]:
    async with inference_client(timeout_s=INFERENCE_TIMEOUT_S) as client:
        return await asyncio.wait_for(client.health(), timeout=2 * INFERENCE_TIMEOUT_S + 1)


def inference_workers() -> dict[str, dict[str, Any]]:
    """{url: {"ok": bool, "engine": ..., "load": {...}}} for every configured worker."""
    try:
        return async_to_sync(_inference_health)()
    except TimeoutError:
        return {url: {"ok": False, "error": "timeout"} for url in settings.INFERENCE_URLS}


def inference_check() -> Check:
    """Ready when at least one worker is up: the client routes around the others. Only
    counts are reported: worker addresses are internal."""
    workers = inference_workers()
    up = sum(1 for entry in workers.values() if entry.get("ok"))
    return Check(up > 0, {"workers_up": up, "workers": len(workers)})


def readiness() -> dict[str, Check]:
    """Database, Redis (when configured) and the inference worker."""
    checks = {"database": database_check()}
    if settings.REDIS_URL:
        checks["redis"] = redis_check()
    checks["inference"] = inference_check()
    return checks


def celery_queue_names() -> list[str]:
    """The queues tasks go to: the default, `speech`, and every queue CELERY_TASK_ROUTES
    names."""
    names = {settings.CELERY_TASK_DEFAULT_QUEUE, "speech"}
    routes = getattr(settings, "CELERY_TASK_ROUTES", None) or {}
    if isinstance(routes, dict):
        for route in routes.values():
            if isinstance(route, dict) and route.get("queue"):
                names.add(route["queue"])
    return sorted(names)


def celery_queue_depths() -> dict[str, int | None] | None:
    """Messages waiting per queue (Redis LLEN). None when tasks run in-process (no
    broker); a queue's value is None when Redis did not answer."""
    if not settings.REDIS_URL:
        return None
    names = celery_queue_names()
    try:
        with _redis() as client:
            pipe = client.pipeline(transaction=False)
            for name in names:
                for step in _PRIORITY_STEPS:
                    pipe.llen(name if step == 0 else f"{name}{_PRIORITY_SEPARATOR}{step}")
            lengths = pipe.execute()
    except redis.RedisError:
        return dict.fromkeys(names)
    per_queue = len(_PRIORITY_STEPS)
    return {name: sum(lengths[i * per_queue : (i + 1) * per_queue]) for i, name in enumerate(names)}


def celery_workers() -> dict[str, bool] | None:
    """{worker hostname: answered} from a broadcast ping; None when tasks run in-process.
    Blocks up to WORKER_PING_TIMEOUT_S (workers answer within milliseconds when idle or
    busy: control messages are handled between tasks by the main process)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    from config.celery import app

    try:
        replies = app.control.inspect(timeout=WORKER_PING_TIMEOUT_S).ping() or {}
    except Exception:  # broker unreachable: no worker can be reached either
        return {}
    return {name: reply.get("ok") == "pong" for name, reply in sorted(replies.items())}
