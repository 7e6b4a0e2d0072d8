"""Accounts' part of a student's personal data (privacy.registry): the profile and class
memberships. Erased last: the user row goes, and with it every row still pointing at it."""

from accounts.models import Membership, User
from privacy.registry import Cutoffs, PersonalData


def _when(value):
    return value.isoformat() if value else None


def personal_data_export(*, user: User) -> PersonalData:
    data = PersonalData()
    data.parts["profile"] = {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "school": {"id": user.school_id, "name": user.school.name} if user.school else None,
        "preferred_language": user.preferred_language,
        "date_joined": _when(user.date_joined),
        "last_login": _when(user.last_login),
    }
    data.parts["memberships"] = [
        {
            "classroom": {"id": m.classroom_id, "name": m.classroom.name},
            "joined_at": _when(m.joined_at),
        }
        for m in Membership.objects.filter(student=user).select_related("classroom")
    ]
    return data


def personal_data_erase(*, user: User) -> dict[str, int]:
    memberships, _ = Membership.objects.filter(student=user).delete()
    user.delete()
    return {"memberships": memberships, "users": 1}


def retention_purge(*, school_id: int | None, cutoffs: Cutoffs) -> dict[str, int]:
    return {}
