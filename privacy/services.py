"""Writes for data rights: the audit log, exports, deletion requests and erasure,
retention. Views and tasks check access (privacy.selectors) and call one of these.

Services raise common.errors.ApplicationError with a user-facing message on a request
that cannot be carried out, and then change nothing.
"""

import json
import logging
import re
import tempfile
import zipfile
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, School, User
from common.errors import ApplicationError
from privacy.models import (
    RETENTION_MAX_DAYS,
    RETENTION_MIN_DAYS,
    AuditAction,
    AuditEvent,
    DeletionRequest,
    RetentionPolicy,
)
from privacy.registry import Cutoffs, personal_data_modules

logger = logging.getLogger(__name__)

# Audit metadata holds numbers and short codes only: no names, addresses or free text.
_CODE = re.compile(r"^[a-z0-9_.:-]{0,40}$")
EXPORT_FORMAT_VERSION = 1


# --- audit log ---------------------------------------------------------------------------


def _check_metadata(metadata: dict[str, Any]) -> None:
    for key, value in metadata.items():
        if not _CODE.match(key):
            raise ValueError(f"audit metadata key {key!r} is not a code")
        if isinstance(value, str) and not _CODE.match(value):
            raise ValueError(f"audit metadata {key!r} holds text, not a code")
        if not isinstance(value, str | int | float | bool | type(None)):
            raise ValueError(f"audit metadata {key!r} is not a number or a code")


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    subject: User | None = None,
    target: models.Model | None = None,
    school_id: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. The school is the actor's, else the subject's, unless given.
    `metadata` takes numbers and lower-case codes only (ValueError otherwise)."""
    metadata = metadata or {}
    _check_metadata(metadata)
    if school_id is None:
        school_id = next(
            (u.school_id for u in (actor, subject) if u is not None and u.school_id), None
        )
    return AuditEvent.objects.create(
        action=AuditAction(action),
        actor=actor if actor is not None and actor.pk else None,
        subject=subject,
        school_id=school_id,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=target.pk if target is not None else None,
        metadata=metadata,
    )


# --- export ------------------------------------------------------------------------------


def personal_data_export(*, student: User, by: User) -> tuple[IO[bytes], str]:
    """A zip archive of everything held about `student`: one JSON file per part, and
    the files (photos, audio) under their folders; plus the name to save it as. The
    caller checked that `by` is the student or an admin of the student's school."""
    archive = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    parts: list[str] = []
    files: list[str] = []
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for module in personal_data_modules():
            data = module.personal_data_export(user=student)
            for name, value in data.parts.items():
                zf.writestr(f"{name}.json", json.dumps(value, ensure_ascii=False, indent=2))
                parts.append(name)
            for path, field_file in data.files.items():
                with field_file.open("rb") as handle:
                    zf.writestr(path, handle.read())
                files.append(path)
        manifest = {
            "format": "exocortex-personal-data",
            "version": EXPORT_FORMAT_VERSION,
            "exported_at": timezone.now().isoformat(),
            "user_id": student.id,
            "parts": sorted(f"{name}.json" for name in parts),
            "files": sorted(files),
        }
        zf.writestr("manifest.json", json.dumps(manifest, indent=2))
    archive.seek(0)
    audit_record(
        action=AuditAction.EXPORT,
        actor=by,
        subject=student,
        metadata={"by": "self" if by.pk == student.pk else str(by.role)},
    )
    filename = f"exocortex-data-{student.id}-{timezone.now():%Y%m%d}.zip"
    return archive, filename


# --- deletion ----------------------------------------------------------------------------


def deletion_request_open(*, student: User) -> DeletionRequest | None:
    return DeletionRequest.objects.filter(
        user=student, cancelled_at__isnull=True, erased_at__isnull=True
    ).first()


@transaction.atomic
def deletion_request(*, student: User, by: User) -> DeletionRequest:
    """Schedule the erasure of `student` after settings.PRIVACY_DELETION_COOL_OFF_DAYS.
    The caller checked that `by` is the student or an admin of the student's school."""
    if student.role != Role.STUDENT:
        raise ApplicationError(_("Only a student's account can be deleted here."))
    if deletion_request_open(student=student) is not None:
        raise ApplicationError(_("Deletion is already scheduled."))
    now = timezone.now()
    try:
        with transaction.atomic():
            request = DeletionRequest.objects.create(
                user=student,
                school_id=student.school_id,
                requested_by=by,
                requested_at=now,
                scheduled_for=now + timedelta(days=settings.PRIVACY_DELETION_COOL_OFF_DAYS),
            )
    except IntegrityError as exc:  # a concurrent request won
        raise ApplicationError(_("Deletion is already scheduled.")) from exc
    audit_record(
        action=AuditAction.DELETION_REQUESTED,
        actor=by,
        subject=student,
        target=request,
        metadata={"reference": request.reference},
    )
    return request


@transaction.atomic
def deletion_cancel(*, student: User, by: User) -> DeletionRequest:
    """Cancel the student's scheduled erasure. Same access as deletion_request."""
    request = (
        DeletionRequest.objects.select_for_update()
        .filter(user=student, cancelled_at__isnull=True, erased_at__isnull=True)
        .first()
    )
    if request is None:
        raise ApplicationError(_("No deletion is scheduled."))
    request.cancelled_at = timezone.now()
    request.cancelled_by = by
    request.save(update_fields=["cancelled_at", "cancelled_by"])
    audit_record(
        action=AuditAction.DELETION_CANCELLED,
        actor=by,
        subject=student,
        target=request,
        metadata={"reference": request.reference},
    )
    return request


def user_erase(*, request_id: int, now: datetime | None = None) -> dict[str, int] | None:
    """Carry out one deletion request if it is still open and due: every app erases its
    part (privacy.registry), attempts are kept anonymised, the user row goes. Returns
    counts by kind, or None when there was nothing to do. Idempotent; one transaction
    (files are deleted after it commits)."""
    now = now or timezone.now()
    with transaction.atomic():
        request = (
            DeletionRequest.objects.select_for_update(of=("self",))
            .filter(
                pk=request_id,
                cancelled_at__isnull=True,
                erased_at__isnull=True,
                scheduled_for__lte=now,
            )
            .select_related("user")
            .first()
        )
        if request is None or request.user is None:
            return None
        user = request.user
        counts: dict[str, int] = {}
        for module in personal_data_modules():
            for kind, count in module.personal_data_erase(user=user).items():
                counts[kind] = counts.get(kind, 0) + count
        DeletionRequest.objects.filter(pk=request.pk).update(
            user=None, requested_by=None, erased_at=now
        )
        audit_record(
            action=AuditAction.ERASURE,
            school_id=request.school_id,
            target=request,
            metadata={"reference": request.reference, **counts},
        )
    logger.info("erased the data of deletion request %s", request.reference)
    return counts


def erasure_run_due(*, now: datetime | None = None) -> int:
    """Erase every student whose cool-off has passed; returns how many."""
    now = now or timezone.now()
    due = DeletionRequest.objects.filter(
        cancelled_at__isnull=True, erased_at__isnull=True, scheduled_for__lte=now
    ).values_list("pk", flat=True)
    return sum(1 for pk in list(due) if user_erase(request_id=pk, now=now) is not None)


# --- retention ---------------------------------------------------------------------------


def retention_defaults() -> dict[str, int]:
    return {f"{kind}_days": days for kind, days in settings.PRIVACY_RETENTION_DAYS.items()}


def retention_policy_get(*, school: School) -> RetentionPolicy:
    """The school's policy (unsaved, with the defaults, when it has none)."""
    policy = RetentionPolicy.objects.filter(school=school).first()
    return policy or RetentionPolicy(school=school, **retention_defaults())


def retention_policy_update(*, school: School, by: User, days: dict[str, int]) -> RetentionPolicy:
    """Set the school's retention days (every kind of RetentionPolicy.KINDS). The caller
    checked that `by` administers `school`."""
    values = {}
    for kind in RetentionPolicy.KINDS:
        value = days.get(f"{kind}_days")
        if not isinstance(value, int) or not RETENTION_MIN_DAYS <= value <= RETENTION_MAX_DAYS:
            raise ApplicationError(
                _("Keep data between %(min)d and %(max)d days.")
                % {"min": RETENTION_MIN_DAYS, "max": RETENTION_MAX_DAYS},
                field=f"{kind}_days",
            )
        values[f"{kind}_days"] = value
    policy, _created = RetentionPolicy.objects.update_or_create(school=school, defaults=values)
    audit_record(
        action=AuditAction.RETENTION_CHANGE, actor=by, school_id=school.id, metadata=values
    )
    return policy


def retention_cutoffs(*, policy: RetentionPolicy, now: datetime) -> Cutoffs:
    return Cutoffs(
        **{kind: now - timedelta(days=getattr(policy, f"{kind}_days")) for kind in policy.KINDS}
    )


def retention_enforce(*, now: datetime | None = None) -> dict[str, int]:
    """Delete, school by school, what is past its school's retention date (learners
    without a school: the defaults). Returns counts by kind. Idempotent."""
    now = now or timezone.now()
    totals: dict[str, int] = {}
    policies = {p.school_id: p for p in RetentionPolicy.objects.all()}
    school_ids: list[int | None] = [*School.objects.values_list("pk", flat=True), None]
    for school_id in school_ids:
        policy = policies.get(school_id) or RetentionPolicy(**retention_defaults())
        cutoffs = retention_cutoffs(policy=policy, now=now)
        with transaction.atomic():
            for module in personal_data_modules():
                for kind, count in module.retention_purge(
                    school_id=school_id, cutoffs=cutoffs
                ).items():
                    totals[kind] = totals.get(kind, 0) + count
    logger.info("retention: deleted %s", totals)
    return totals
