"""E-mail notifications to users."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.models import User


def welcome_email_send(*, user_id: int) -> bool:
    """Send the welcome e-mail in the user's language, at most once per user.

    The row lock makes a redelivered task (acks_late) a no-op instead of a second e-mail.
    Returns False if the user is gone or was already welcomed.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None or user.welcome_sent_at is not None:
            return False
        with translation.override(user.preferred_language):
            context = {"user": user}
            subject = render_to_string("accounts/email/welcome_subject.txt", context).strip()
            body = render_to_string("accounts/email/welcome_body.txt", context)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
        user.welcome_sent_at = timezone.now()
        user.save(update_fields=["welcome_sent_at"])
    return True
