"""Single sign-on's part of a person's data (privacy.registry): the identities they sign
in with (allauth's SocialAccount: the provider's claims about them, and any tokens) and
the e-mail addresses allauth keeps for them. Erased before accounts.privacy deletes the
user row."""

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialToken

from accounts.models import User
from privacy.registry import Cutoffs, PersonalData


def _when(value):
    return value.isoformat() if value else None


def personal_data_export(*, user: User) -> PersonalData:
    data = PersonalData()
    data.parts["sign_in_identities"] = [
        {
            "provider": account.provider,
            "uid": account.uid,
            "date_joined": _when(account.date_joined),
            "last_login": _when(account.last_login),
            "claims": account.extra_data,
        }
        for account in SocialAccount.objects.filter(user=user).order_by("id")
    ]
    data.parts["email_addresses"] = [
        {"email": address.email, "verified": address.verified, "primary": address.primary}
        for address in EmailAddress.objects.filter(user=user).order_by("id")
    ]
    return data


def personal_data_erase(*, user: User) -> dict[str, int]:
    tokens, _ = SocialToken.objects.filter(account__user=user).delete()
    accounts = SocialAccount.objects.filter(user=user).delete()[1].get(SocialAccount._meta.label, 0)
    addresses = EmailAddress.objects.filter(user=user).delete()[1].get(EmailAddress._meta.label, 0)
    return {"sign_in_identities": accounts, "sign_in_tokens": tokens, "email_addresses": addresses}


def retention_purge(*, school_id: int | None, cutoffs: Cutoffs) -> dict[str, int]:
    return {}
