"""Celery tasks for tutor conversations. Thin: take ids, re-fetch, call a service."""

import logging
import time

from celery import shared_task

from common.tasks import MAX_RETRIES

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=MAX_RETRIES, time_limit=60, soft_time_limit=50)
def alert_teachers(self, session_id: int) -> int:
    """E-mail the learner's class teachers that a conversation was flagged; returns how
    many were told. Idempotent: a conversation is announced once per flagging."""
    from tutor.notifications import flagged_alert_send

    try:
        return flagged_alert_send(session_id=session_id)
    except OSError as exc:  # the mail server is unreachable: try again later
        raise self.retry(exc=exc, countdown=60 * (self.request.retries + 1)) from exc


@shared_task(time_limit=600, soft_time_limit=570)
def distil_memories() -> int:
    """Nightly (beat, settings.TUTOR_MEMORY_HOUR): queue one distil_memory per learner and
    course with turns their memory has not read; returns how many were queued. Run eagerly
    (no broker), it stops at the first pair the inference worker is down for: the rest
    waits for the next night, nothing is lost."""
    from tutor.memory import memory_pending

    queued = 0
    for learner_id, course_id in memory_pending():
        result = distil_memory.delay(learner_id, course_id)
        queued += 1
        if distil_memory.app.conf.task_always_eager and result.get() == "unavailable":
            break
    logger.info("queued %d learner memories to distil", queued)
    return queued


@shared_task(bind=True, max_retries=MAX_RETRIES, time_limit=300, soft_time_limit=270)
def distil_memory(self, learner_id: int, course_id: int) -> str:
    """Distil one learner's new turns on a course into their memory (tutor.memory);
    returns "distilled", "unchanged" (nothing new), "failed" (unusable reply),
    "unavailable" (the worker stayed down) or "missing".

    Idempotent: the memory records the newest turn it read, so a redelivered or repeated
    task reads nothing twice. While the inference worker is down or busy the task is
    retried with backoff (through the broker; a couple of quick retries when run eagerly);
    a failed run changes nothing, so the next night reads the same turns again.
    """
    from accounts.models import User
    from courses.models import Course
    from learning.grading import TRANSIENT_ERRORS
    from learning.tasks import EAGER_RETRIES, retry_countdown
    from tutor.memory import MemoryDistilError, memory_distil

    learner = User.objects.filter(pk=learner_id).first()
    course = Course.objects.filter(pk=course_id).first()
    if learner is None or course is None:
        return "missing"
    eager_tries = 0
    while True:
        try:
            memory = memory_distil(learner=learner, course=course)
            return "unchanged" if memory is None else "distilled"
        except TRANSIENT_ERRORS as exc:
            if self.request.is_eager and eager_tries < EAGER_RETRIES:
                time.sleep(retry_countdown(eager_tries))
                eager_tries += 1
                continue
            if self.request.is_eager or self.request.retries >= self.max_retries:
                logger.warning("memory of learner %s not distilled: %s", learner_id, exc)
                return "unavailable"
            raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc
        except MemoryDistilError as exc:
            logger.warning("memory of learner %s not distilled: %s", learner_id, exc)
            return "failed"
