"""LTI's part of a person's data (privacy.registry): the LMS identities they are launched
as (the platform's issuer and the LMS's id of the person). Classes made from LMS courses
and the links placed in them belong to the school, not to a person, and stay."""

from accounts.models import User
from lti.models import LtiIdentity
from privacy.registry import Cutoffs, PersonalData


def personal_data_export(*, user: User) -> PersonalData:
    data = PersonalData()
    data.parts["lms_identities"] = [
        {
            "issuer": identity.issuer,
            "sub": identity.sub,
            "created_at": identity.created_at.isoformat(),
        }
        for identity in LtiIdentity.objects.filter(user=user).order_by("id")
    ]
    return data


def personal_data_erase(*, user: User) -> dict[str, int]:
    deleted, _ = LtiIdentity.objects.filter(user=user).delete()
    return {"lms_identities": deleted}


def retention_purge(*, school_id: int | None, cutoffs: Cutoffs) -> dict[str, int]:
    return {}
