"""Celery tasks for courses. Thin: take ids, re-fetch, call a service, stay idempotent."""

from celery import shared_task

from common.tasks import RETRY_POLICY


@shared_task(**RETRY_POLICY)
def index_lesson_version(version_id: int) -> int:
    """Cut a published lesson version into passages and embed them (safe to repeat)."""
    from courses.models import LessonVersion
    from courses.retrieval import lesson_version_index

    version = LessonVersion.objects.filter(pk=version_id).first()
    if version is None:  # deleted before the worker got to it
        return 0
    return lesson_version_index(version=version)
