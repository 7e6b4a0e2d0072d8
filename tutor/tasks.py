"""Celery tasks for tutor conversations. Thin: take ids, re-fetch, call a service."""

from celery import shared_task

from common.tasks import MAX_RETRIES


@shared_task(bind=True, max_retries=MAX_RETRIES, time_limit=60, soft_time_limit=50)
def alert_teachers(self, session_id: int) -> int:
    """E-mail the learner's class teachers that a conversation was flagged; returns how
    many were told. Idempotent: a conversation is announced once per flagging."""
    from tutor.notifications import flagged_alert_send

    try:
        return flagged_alert_send(session_id=session_id)
    except OSError as exc:  # the mail server is unreachable: try again later
        raise self.retry(exc=exc, countdown=60 * (self.request.retries + 1)) from exc
