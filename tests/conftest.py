import os

import pytest
from django.conf import settings
from django.core.cache import cache

# Weights never come from a model hub here; fail fast instead of hanging on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the cache (Redis in services mode): start each test clean."""
    cache.clear()


@pytest.fixture
def celery_live(transactional_db):
    """Tasks run for real: in-process on the embedded default, on a Celery worker thread
    consuming the real Redis broker in services mode."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        yield None
        return
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    # Every queue the project routes to (speech-to-text runs on `speech`).
    queues = {settings.CELERY_TASK_DEFAULT_QUEUE} | {
        route["queue"] for route in settings.CELERY_TASK_ROUTES.values()
    }
    with start_worker(
        app, perform_ping_check=False, pool="solo", loglevel="WARNING", queues=sorted(queues)
    ) as worker:
        # start_worker returns once tasks are consumed; its control channel (broadcast
        # ping, inspect) can come up a moment later. Wait for it, at most 10 s.
        for _ in range(20):
            if worker.hostname in (app.control.inspect(timeout=0.5).ping() or {}):
                break
        yield worker


@pytest.fixture(scope="session")
def whisper(tmp_path_factory):
    """The configured packaged speech-to-text model (base, int8), assembled and loaded
    once; voice.services shares the loaded instance (voice.stt caches it per process)."""
    from voice.services import stt_model

    return stt_model()
