"""Personal data outside the domain apps (privacy.registry): the log-in sessions and the
admin site's change log of Django's own apps, and this app's records about the user."""

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from privacy.models import AuditEvent, DeletionRequest
from privacy.registry import Cutoffs, PersonalData


def _when(value):
    return value.isoformat() if value else None


def personal_data_export(*, user: User) -> PersonalData:
    data = PersonalData()
    data.parts["deletion_requests"] = [
        {
            "reference": r.reference,
            "requested_at": _when(r.requested_at),
            "scheduled_for": _when(r.scheduled_for),
            "cancelled_at": _when(r.cancelled_at),
        }
        for r in DeletionRequest.objects.filter(user=user).order_by("requested_at", "id")
    ]
    # Who else acted on the student shows as a role, not a name: that is theirs.
    data.parts["audit_events"] = [
        {
            "at": _when(e.at),
            "action": e.action,
            "by": "you" if e.actor_id == user.id else (e.actor.role if e.actor else None),
            "about_you": e.subject_id == user.id,
            "target_type": e.target_type,
            "target_id": e.target_id,
        }
        for e in AuditEvent.objects.filter(Q(actor=user) | Q(subject=user))
        .select_related("actor")
        .order_by("at", "id")
    ]
    return data


def _user_sessions(user: User) -> list[str]:
    """Keys of the database sessions logged in as `user` (the unexpired ones)."""
    keys = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            keys.append(session.session_key)
    return keys


def personal_data_erase(*, user: User) -> dict[str, int]:
    sessions, _ = Session.objects.filter(session_key__in=_user_sessions(user)).delete()
    # The admin site's change log names objects by their str(): the user's and anything
    # that printed their name or e-mail (a membership, say).
    mentions = Q(content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk))
    for needle in (user.email, user.display_name):
        if needle:
            mentions |= Q(object_repr__icontains=needle) | Q(change_message__icontains=needle)
    log_entries, _ = LogEntry.objects.filter(mentions).delete()
    return {"login_sessions": sessions, "admin_log_entries": log_entries}


def retention_purge(*, school_id: int | None, cutoffs: Cutoffs) -> dict[str, int]:
    return {}
