"""Celery tasks for courses. Thin: take ids, re-fetch, call a service, stay idempotent."""

from celery import shared_task

from common.tasks import MAX_RETRIES, MAX_RETRY_BACKOFF, RETRY_POLICY


@shared_task(**RETRY_POLICY)
def index_lesson_version(version_id: int) -> int:
    """Cut a published lesson version into passages and embed them (safe to repeat)."""
    from courses.models import LessonVersion
    from courses.retrieval import lesson_version_index

    version = LessonVersion.objects.filter(pk=version_id).first()
    if version is None:  # deleted before the worker got to it
        return 0
    return lesson_version_index(version=version)


@shared_task(
    bind=True,
    # Drafting with the model is slow on a CPU; the batch is redrafted if a worker dies.
    time_limit=900,
    soft_time_limit=870,
    max_retries=MAX_RETRIES,
)
def draft_exercise_variants(self, batch_id: int) -> int:
    """Draft, check and store a batch of exercise variants; returns how many survived.

    While the inference worker is down or saturated the batch waits and is retried with
    backoff; after the last retry it is marked failed with the reason."""
    from courses.variants import TRANSIENT_ERRORS, variant_batch_fail, variant_batch_run

    try:
        return variant_batch_run(batch_id=batch_id).survived
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            variant_batch_fail(batch_id=batch_id, message=str(exc))
            return 0
        countdown = min(MAX_RETRY_BACKOFF, 15 * 2**self.request.retries)
        raise self.retry(exc=exc, countdown=countdown) from exc
