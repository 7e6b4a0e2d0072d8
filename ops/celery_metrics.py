"""Celery task metrics, from Celery's signals, and the worker-side exporter.

Counts and durations are recorded in the process that runs the task: a prefork child
on a worker, the web process when tasks run in-process (embedded default). A worker
serves them on its own HTTP port (CELERY_METRICS_PORT) from its main process; its
children's values reach it through PROMETHEUS_MULTIPROC_DIR, which compose sets for
every worker (without it only the main process's values, i.e. none, would be served).
"""

from __future__ import annotations

import logging
import os
import time

from celery import signals
from django.conf import settings
from prometheus_client import start_http_server
from prometheus_client.multiprocess import mark_process_dead

from ops import metrics

logger = logging.getLogger(__name__)

# Attribute on the task's request context holding its start time; the context lives
# exactly as long as the task runs, so no table of running tasks is needed.
_STARTED = "_exocortex_started"


def task_started(sender=None, task=None, **kwargs) -> None:
    if task is not None:
        setattr(task.request, _STARTED, time.perf_counter())


def task_finished(sender=None, task=None, state=None, **kwargs) -> None:
    if task is None:
        return
    started = getattr(task.request, _STARTED, None)
    metrics.celery_tasks.labels(task=task.name, state=state or "UNKNOWN").inc()
    if started is not None:
        metrics.celery_task_duration.labels(task=task.name).observe(time.perf_counter() - started)


def exporter_start(sender=None, **kwargs):
    """Serve this worker's metrics on CELERY_METRICS_PORT (unset: no exporter). Runs in
    the worker's main process once it is ready; returns the server, or None."""
    port = settings.CELERY_METRICS_PORT
    if not port:
        return None
    server, _thread = start_http_server(port, registry=metrics.exposition_registry())
    logger.info("Celery metrics on port %s", server.server_port)
    return server


def process_exited(sender=None, pid=None, **kwargs) -> None:
    """A prefork child is gone: drop its live gauges from the multiprocess files."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        mark_process_dead(os.getpid(), settings.PROMETHEUS_MULTIPROC_DIR)


def connect() -> None:
    signals.task_prerun.connect(task_started, weak=False, dispatch_uid="ops.task_started")
    signals.task_postrun.connect(task_finished, weak=False, dispatch_uid="ops.task_finished")
    signals.worker_ready.connect(exporter_start, weak=False, dispatch_uid="ops.exporter")
    signals.worker_process_shutdown.connect(
        process_exited, weak=False, dispatch_uid="ops.process_exited"
    )
