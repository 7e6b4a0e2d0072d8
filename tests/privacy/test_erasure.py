"""Deletion: a request with a cool-off, cancellable; then erasure that leaves nothing
personal anywhere, and attempts only anonymised for course statistics."""

import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from common.errors import ApplicationError
from learning import bkt
from learning import services as learning_services
from learning.models import Attempt
from privacy import services, tasks
from privacy.models import AuditAction, AuditEvent, DeletionRequest
from tutor.models import TutorPhoto

pytestmark = pytest.mark.django_db

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def find_everywhere(needles: list[str]) -> list[str]:
    """Every (model.field) in every installed model whose value contains a needle,
    case-insensitive; log-in sessions are decoded first."""
    needles = [n.lower() for n in needles]
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, TEXT_FIELDS)]
        for row in model._base_manager.all():
            for field in fields:
                value = getattr(row, field.attname)
                if model is Session and field.name == "session_data":
                    value = row.get_decoded()
                text = json.dumps(value, default=str).lower()
                found += [f"{model._meta.label}.{field.name}" for n in needles if n in text]
    return found


def references_to(user_id: int) -> list[str]:
    """Every column anywhere that still points at the user row."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if (
                field.is_relation
                and field.related_model is User
                and model._base_manager.filter(**{field.attname: user_id}).exists()
            ):
                found.append(f"{model._meta.label}.{field.name}")
    return found


def test_request_schedules_erasure_after_the_cool_off_and_can_be_cancelled(client, klass):
    client.force_login(klass.student)
    before = timezone.now()
    assert client.post(reverse("privacy:my_data_delete")).status_code == 302
    request = DeletionRequest.objects.get(user=klass.student)
    cool_off = timedelta(days=settings.PRIVACY_DELETION_COOL_OFF_DAYS)
    assert before + cool_off <= request.scheduled_for <= timezone.now() + cool_off
    assert "deletion-scheduled" in client.get(reverse("privacy:my_data")).content.decode()

    # a second request changes nothing
    with pytest.raises(ApplicationError):
        services.deletion_request(student=klass.student, by=klass.student)
    assert DeletionRequest.objects.count() == 1

    assert client.post(reverse("privacy:my_data_delete_cancel")).status_code == 302
    request.refresh_from_db()
    assert request.cancelled_at is not None
    assert request.cancelled_by == klass.student
    assert services.erasure_run_due(now=timezone.now() + 2 * cool_off) == 0
    assert User.objects.filter(pk=klass.student.pk).exists()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == [AuditAction.DELETION_REQUESTED, AuditAction.DELETION_CANCELLED]


def test_nothing_is_erased_before_the_cool_off_ends(klass):
    request = services.deletion_request(student=klass.student, by=klass.admin)
    assert services.erasure_run_due(now=request.scheduled_for - timedelta(seconds=1)) == 0
    assert User.objects.filter(pk=klass.student.pk).exists()
    assert services.erasure_run_due(now=request.scheduled_for) == 1
    assert not User.objects.filter(pk=klass.student.pk).exists()


def test_erasure_leaves_nothing_personal_in_any_table(klass, django_capture_on_commit_callbacks):
    student, other = klass.student, klass.other
    user_id = student.id
    needles = [student.email, student.display_name, student.username, "Zelda", "quintessa"]
    photo_name = TutorPhoto.objects.get(session__learner=student).file.name
    attempt_ids = set(Attempt.objects.filter(learner=student).values_list("id", flat=True))
    assert find_everywhere(needles)  # the search does find what is there
    assert references_to(user_id)
    request = services.deletion_request(student=student, by=student)
    DeletionRequest.objects.filter(pk=request.pk).update(scheduled_for=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.erase_due.apply().get() == 1

    assert find_everywhere(needles) == []
    assert references_to(user_id) == []
    assert not default_storage.exists(photo_name)
    # the classmate keeps everything
    assert find_everywhere([other.email, other.display_name])
    assert TutorPhoto.objects.filter(session__learner=other).count() == 1
    # attempts stay, anonymised, all under one pseudonym
    kept = Attempt.objects.filter(pk__in=attempt_ids)
    assert kept.count() == 2
    assert list(kept.values_list("learner_id", "presentation_id", "answer", "feedback")) == [
        (None, None, {}, ""),
        (None, None, {}, ""),
    ]
    assert len({a.learner_pseudonym for a in kept}) == 1
    assert len(kept[0].learner_pseudonym) == 32
    # the request and the audit log keep only a reference
    request.refresh_from_db()
    assert request.user_id is None
    assert request.erased_at is not None
    erasure = AuditEvent.objects.get(action=AuditAction.ERASURE)
    assert erasure.metadata["reference"] == request.reference
    assert erasure.metadata["attempts_anonymised"] == 2
    assert (
        erasure.metadata["sign_in_identities"],
        erasure.metadata["sign_in_tokens"],
        erasure.metadata["email_addresses"],
        erasure.metadata["lms_identities"],
    ) == (1, 1, 1, 1)
    assert erasure.school_id == klass.school.id
    # erasing again is a no-op
    assert services.user_erase(request_id=request.pk) is None


def test_course_statistics_still_count_an_erased_learner(klass, settings, monkeypatch):
    settings.LEARNING_BKT_FIT_MIN_LEARNERS = 2
    settings.LEARNING_BKT_FIT_MIN_OBSERVATIONS = 1
    fitted = []

    def fit_em(sequences):
        fitted.append(sorted(s.tolist() for s in sequences))
        return bkt.FitResult(bkt.DEFAULT_PARAMS, -1.0, 1, len(sequences), len(sequences))

    monkeypatch.setattr(bkt, "fit_em", fit_em)
    learning_services.skill_params_fit(skill=klass.skill_a)
    request = services.deletion_request(student=klass.student, by=klass.admin)
    services.user_erase(request_id=request.pk, now=request.scheduled_for)
    after = learning_services.skill_params_fit(skill=klass.skill_a)
    # one sequence per learner, the erased one's included
    assert fitted[0] == fitted[1] == [[0], [0]]
    assert (after.sequences, after.observations) == (2, 2)


def test_admin_schedules_and_cancels_for_their_school_only(client, klass):
    client.force_login(klass.admin)
    url = reverse("privacy:student_delete", args=[klass.student.id])
    assert client.post(url).status_code == 302
    page = client.get(reverse("privacy:school_students")).content.decode()
    assert "scheduled-deletions" in page
    assert klass.student.display_name in page
    cancel = reverse("privacy:student_delete_cancel", args=[klass.student.id])
    assert client.post(cancel).status_code == 302
    assert not DeletionRequest.objects.filter(cancelled_at__isnull=True).exists()

    client.force_login(klass.teacher)
    assert client.post(url).status_code == 404
    assert client.get(reverse("privacy:school_students")).status_code == 404
    client.force_login(klass.other)
    assert client.post(url).status_code == 404
    assert DeletionRequest.objects.count() == 1


def test_staff_accounts_are_not_deleted_here(klass):
    with pytest.raises(ApplicationError):
        services.deletion_request(student=klass.teacher, by=klass.admin)
    assert not DeletionRequest.objects.exists()
