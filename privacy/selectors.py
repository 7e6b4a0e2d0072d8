"""Reads and permission-checked lookups for data rights.

A school admin acts on the students of their own school only; anything else is a 404,
so another school's student ids cannot be probed.
"""

from dataclasses import dataclass
from datetime import date

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from accounts.models import Role, User
from privacy.models import AuditEvent, DeletionRequest


def admin_check(*, user: User) -> None:
    """Http404 unless `user` is a school admin with a school."""
    if not user.is_authenticated or user.role != Role.SCHOOL_ADMIN or user.school_id is None:
        raise Http404("No such page.")


def school_students(*, admin: User) -> QuerySet[User]:
    """The students of the admin's school, with `deletion_pending` annotated."""
    admin_check(user=admin)
    pending = DeletionRequest.objects.filter(
        user=OuterRef("pk"), cancelled_at__isnull=True, erased_at__isnull=True
    )
    return (
        User.objects.filter(school_id=admin.school_id, role=Role.STUDENT)
        .annotate(deletion_pending=Exists(pending))
        .order_by("display_name", "id")
    )


def student_get_for_admin(*, admin: User, student_id: int) -> User:
    """A student of the admin's school; Http404 otherwise."""
    student = school_students(admin=admin).filter(pk=student_id).first()
    if student is None:
        raise Http404("No such student.")
    return student


def school_deletion_requests(*, admin: User) -> QuerySet[DeletionRequest]:
    """The school's open deletion requests, soonest first."""
    admin_check(user=admin)
    return DeletionRequest.objects.filter(
        school_id=admin.school_id, cancelled_at__isnull=True, erased_at__isnull=True
    ).select_related("user")


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""
    actor_id: int | None = None
    subject_id: int | None = None
    since: date | None = None
    until: date | None = None


def audit_events(*, admin: User, filters: AuditFilter = AuditFilter()) -> QuerySet[AuditEvent]:
    """The admin's school's audit events, newest first."""
    admin_check(user=admin)
    events = AuditEvent.objects.filter(school_id=admin.school_id)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.actor_id is not None:
        events = events.filter(actor_id=filters.actor_id)
    if filters.subject_id is not None:
        events = events.filter(subject_id=filters.subject_id)
    if filters.since is not None:
        events = events.filter(at__date__gte=filters.since)
    if filters.until is not None:
        events = events.filter(at__date__lte=filters.until)
    return events.select_related("actor", "subject").order_by("-at", "-id")
