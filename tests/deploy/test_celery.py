"""The Celery app's safety settings: JSON only, time limits, late acks, fair prefetch."""

from config.celery import app


def test_celery_accepts_json_only_with_time_limits_and_late_acks():
    conf = app.conf

    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.task_time_limit == 300
    assert conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_visibility_timeout_exceeds_longest_retry_backoff():
    from common.tasks import MAX_RETRY_BACKOFF

    visibility = app.conf.broker_transport_options["visibility_timeout"]

    assert visibility > MAX_RETRY_BACKOFF + app.conf.task_time_limit


def test_worker_discovers_welcome_task_with_bounded_retries():
    app.loader.import_default_modules()  # what a worker does at start-up

    task = app.tasks["accounts.tasks.send_welcome_email"]

    assert task.max_retries == 5
    assert task.retry_backoff_max == 600
