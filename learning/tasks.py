"""Celery tasks for the learner model. Thin: take ids, re-fetch, call a service."""

import logging
import time

from celery import shared_task
from django.conf import settings

from common.tasks import MAX_RETRIES, MAX_RETRY_BACKOFF

logger = logging.getLogger(__name__)

# On the embedded default tasks run inside the web request (no broker can hold a delayed
# retry), so a down worker gets this many quick in-process retries instead.
EAGER_RETRIES = 2


def retry_countdown(retries: int) -> float:
    """Seconds before retry number `retries + 1`: exponential, capped below the broker's
    visibility timeout (common.tasks)."""
    return min(MAX_RETRY_BACKOFF, settings.LEARNING_GRADING_RETRY_SECONDS * 2**retries)


@shared_task(bind=True, max_retries=MAX_RETRIES, time_limit=300, soft_time_limit=270)
def grade_attempt(self, attempt_id: int) -> str:
    """Grade one free-response attempt with the model; returns the attempt's status.

    Idempotent: an attempt that is no longer `grading` is left alone, so a redelivered
    or repeated task never counts twice. While the inference worker is down or busy the
    task is retried with backoff (through the broker; a couple of quick retries when run
    eagerly on the embedded default); after the last retry the attempt is marked as not
    gradable (it stays stored) and the learner is told.
    """
    from accounts.models import User
    from learning.grading import TRANSIENT_ERRORS, GradingError, grade_free_response
    from learning.models import Attempt
    from learning.services import attempt_grade_record, attempt_grading_fail

    attempt = Attempt.objects.select_related("exercise_version").filter(pk=attempt_id).first()
    if attempt is None or attempt.status != Attempt.Status.GRADING:
        return attempt.status if attempt else "missing"
    learner = User.objects.only("preferred_language", "school_id").get(pk=attempt.learner_id)
    eager_tries = 0
    while True:
        try:
            grade = grade_free_response(
                snapshot=attempt.exercise_version.snapshot,
                response=str(attempt.answer),
                language=learner.preferred_language,
                tenant=f"school-{learner.school_id}",
                session=f"grading-{attempt.exercise_version_id}",
            )
            break
        except TRANSIENT_ERRORS as exc:
            if self.request.is_eager and eager_tries < EAGER_RETRIES:
                time.sleep(retry_countdown(eager_tries))
                eager_tries += 1
                continue
            if self.request.is_eager or self.request.retries >= self.max_retries:
                attempt_grading_fail(attempt_id=attempt_id, reason=str(exc))
                return Attempt.Status.GRADING_FAILED
            raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc
        except GradingError as exc:
            attempt_grading_fail(attempt_id=attempt_id, reason=str(exc))
            return Attempt.Status.GRADING_FAILED
    graded = attempt_grade_record(attempt_id=attempt_id, grade=grade)
    return graded.status if graded else "missing"


@shared_task(time_limit=1800, soft_time_limit=1750)
def fit_skill_params() -> int:
    """Refit BKT parameters of every skill with enough data (nightly, from beat)."""
    from courses.models import Skill
    from learning.services import skill_params_fit

    fitted = 0
    for skill in Skill.objects.filter(exercises__attempts__is_first=True).distinct().iterator():
        if skill_params_fit(skill=skill) is not None:
            fitted += 1
    logger.info("refitted BKT parameters of %d skills", fitted)
    return fitted
