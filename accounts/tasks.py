"""Celery tasks for accounts. Thin: take ids, re-fetch, call a service, stay idempotent."""

from celery import shared_task

from common.tasks import RETRY_POLICY


@shared_task(bind=True, **RETRY_POLICY)
def send_welcome_email(self, user_id: int) -> bool:
    """Send the welcome e-mail once; returns False when it was already sent."""
    from accounts.notifications import welcome_email_send

    return welcome_email_send(user_id=user_id)
