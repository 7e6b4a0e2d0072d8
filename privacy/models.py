"""Data rights records.

* `RetentionPolicy` — how long a school keeps each kind of personal data.
* `DeletionRequest` — a student's erasure, pending for a cool-off period, cancellable;
  after erasure only its reference and dates remain.
* `AuditEvent` — an append-only log of sensitive actions. It holds ids and codes, never
  free text: who (a user row, nulled when that user is erased), which school, what, on
  whom or which record, when.
"""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import School

RETENTION_MIN_DAYS = 1
RETENTION_MAX_DAYS = 3650
_DAYS = [MinValueValidator(RETENTION_MIN_DAYS), MaxValueValidator(RETENTION_MAX_DAYS)]


def new_reference() -> str:
    return secrets.token_hex(8)


class RetentionPolicy(models.Model):
    """Days each kind of data is kept after it was written. A school without a row keeps
    settings.PRIVACY_RETENTION_DEFAULTS."""

    school = models.OneToOneField(School, on_delete=models.CASCADE, related_name="retention")
    transcripts_days = models.PositiveIntegerField(
        _("tutor conversations (days)"), validators=_DAYS
    )
    photos_days = models.PositiveIntegerField(_("photos of work (days)"), validators=_DAYS)
    memory_days = models.PositiveIntegerField(_("tutor's memory (days)"), validators=_DAYS)
    updated_at = models.DateTimeField(auto_now=True)

    # Voice recordings have their own, shorter bound: voice.models.SchoolVoicePolicy.
    KINDS = ("transcripts", "photos", "memory")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(transcripts_days__gte=RETENTION_MIN_DAYS)
                & Q(transcripts_days__lte=RETENTION_MAX_DAYS)
                & Q(photos_days__gte=RETENTION_MIN_DAYS)
                & Q(photos_days__lte=RETENTION_MAX_DAYS)
                & Q(memory_days__gte=RETENTION_MIN_DAYS)
                & Q(memory_days__lte=RETENTION_MAX_DAYS),
                name="privacy_retention_days_bounded",
            )
        ]

    def __str__(self) -> str:
        return f"retention policy of school {self.school_id}"


class DeletionRequest(models.Model):
    """A student's erasure: requested, then carried out by privacy.tasks.erase_due once
    `scheduled_for` has passed, unless cancelled before. One open request per student."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="deletion_requests",
    )
    school = models.ForeignKey(School, null=True, on_delete=models.SET_NULL, related_name="+")
    # Names the request in the audit log once the student is gone.
    reference = models.CharField(max_length=16, unique=True, default=new_reference)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    scheduled_for = models.DateTimeField(db_index=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scheduled_for", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(cancelled_at__isnull=True, erased_at__isnull=True),
                name="privacy_one_open_deletion_request",
            )
        ]

    def __str__(self) -> str:
        return f"deletion request {self.reference}"

    @property
    def is_open(self) -> bool:
        return self.cancelled_at is None and self.erased_at is None


class AuditAction(models.TextChoices):
    LOGIN = "login", _("Logged in")
    EXPORT = "export", _("Exported a student's data")
    DELETION_REQUESTED = "deletion_requested", _("Requested a student's deletion")
    DELETION_CANCELLED = "deletion_cancelled", _("Cancelled a deletion request")
    ERASURE = "erasure", _("Erased a student's data")
    ROLE_CHANGE = "role_change", _("Changed a role")
    TRANSCRIPT_VIEW = "transcript_view", _("Read a tutor conversation")
    RETENTION_CHANGE = "retention_change", _("Changed the retention settings")
    TWO_FACTOR_ENABLED = "two_factor_enabled", _("Turned two-factor sign-in on")
    TWO_FACTOR_DISABLED = "two_factor_disabled", _("Turned two-factor sign-in off")


class AuditEventQuerySet(models.QuerySet):
    """Bulk updates and deletes are refused: the log is append-only. (Erasing a user
    still nulls the rows' user columns: Django's collector does that in SQL, which is
    the one change the log accepts.)"""

    def update(self, **kwargs):
        raise PermissionError("Audit events cannot be changed.")

    def delete(self):
        raise PermissionError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    school = models.ForeignKey(School, null=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=24, choices=AuditAction.choices)
    # The person the action was about (a student exported, deleted, whose chat was read).
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The record acted on, when it is not a person: ("tutor_session", 17).
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    # Codes and numbers only (privacy.services.audit_record checks): no free text.
    metadata = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["school", "-at"], name="privacy_audit_school_at")]

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events cannot be deleted.")
