"""The welcome task: queued on commit, never for a rolled-back sign-up, sent at most once."""

import time

import pytest
from django.core import mail
from django.db import transaction

from accounts import services
from accounts.models import Role, User
from accounts.notifications import welcome_email_send


class Rollback(Exception):
    pass


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def sign_up(email: str, language: str = "en") -> User:
    return services.user_signup(
        email=email,
        password="a-long-and-unusual-passphrase",
        display_name="Sam",
        role=Role.STUDENT,
        preferred_language=language,
    )


def test_welcome_email_is_sent_once_after_commit_in_users_language(celery_live):
    user = sign_up("sam@example.org", language="fr")

    assert wait_for(lambda: len(mail.outbox) == 1)
    user.refresh_from_db()
    assert mail.outbox[0].to == ["sam@example.org"]
    assert mail.outbox[0].subject == "Bienvenue sur Exocortex"
    assert user.welcome_sent_at is not None
    # A redelivered task (acks_late) must not send a second e-mail.
    assert welcome_email_send(user_id=user.id) is False
    assert len(mail.outbox) == 1


def test_task_enqueued_in_rolled_back_transaction_never_runs(celery_live):
    def sign_up_then_fail():
        with transaction.atomic():
            sign_up("ghost@example.org")
            raise Rollback

    with pytest.raises(Rollback):
        sign_up_then_fail()

    # Positive control: a committed sign-up afterwards is delivered, so the worker was live
    # while the rolled-back one had its chance to (wrongly) arrive.
    sign_up("real@example.org")
    assert wait_for(lambda: len(mail.outbox) >= 1)
    time.sleep(0.5)
    assert [m.to for m in mail.outbox] == [["real@example.org"]]
    assert not User.objects.filter(email="ghost@example.org").exists()
