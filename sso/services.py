"""Writes for single sign-on: who a sign-in is for, new accounts, roles, the audit log.

sso.adapters calls these from allauth's hooks, after allauth has checked the
protocol (signatures, state, nonce, audience, expiry). They raise
common.errors.ApplicationError with a message fit for the person signing in when the
sign-in must be refused, and then change nothing.

The rule that keeps schools apart: an identity provider signs people in to its own
school only. It may create accounts there and connect to an existing account of that
school with the same (verified) e-mail address, never to another school's account, a
student without a school, or a site administrator.
"""

from typing import Any

from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.models import NAME_MAX_LENGTH, Role, User
from common.errors import ApplicationError
from privacy.models import AuditAction
from privacy.services import audit_record
from sso.models import OIDC, ROLE_RANK, IdentityProvider


def identity_claims(*, identity_provider: IdentityProvider, extra_data: dict) -> dict[str, list]:
    """Claims (OpenID Connect: the id_token's, then userinfo's on top) or attributes
    (SAML), each as a list of values."""
    if identity_provider.protocol == OIDC:
        raw = {**(extra_data.get("id_token") or {}), **(extra_data.get("userinfo") or {})}
    else:
        raw = dict(extra_data)
    return {key: value if isinstance(value, list) else [value] for key, value in raw.items()}


def identity_role(*, identity_provider: IdentityProvider, claims: dict[str, list]) -> str:
    """The highest role the provider's mapping gives any of the person's groups, else the
    provider's default role."""
    values = (
        claims.get(identity_provider.role_attribute, []) if identity_provider.role_attribute else []
    )
    mapping = identity_provider.role_mapping or {}
    roles = [mapping[str(value)] for value in values if str(value) in mapping]
    return max(roles, key=lambda r: ROLE_RANK[r], default=identity_provider.default_role)


def sso_user_match(
    *,
    identity_provider: IdentityProvider,
    linked_user: User | None,
    email: str,
    email_verified: bool,
) -> User | None:
    """The account this sign-in is for: `linked_user` (the one this identity already
    signs in to), else the school's account with the same e-mail (to connect), else None
    (a new account in the provider's school). ApplicationError to refuse."""
    if not identity_provider.enabled:
        raise ApplicationError(_("Single sign-on through this provider is switched off."))
    if not email:
        raise ApplicationError(_("Your identity provider did not tell us your e-mail address."))
    if not identity_provider.serves_email(email):
        raise ApplicationError(
            _("This identity provider cannot sign in addresses of %(domain)s.")
            % {"domain": email.rpartition("@")[2]}
        )
    user = linked_user or User.objects.filter(email__iexact=email).first()
    if user is None:
        return None
    if user.is_superuser or user.is_staff or user.school_id != identity_provider.school_id:
        # Never say whose or which school's the address is.
        raise ApplicationError(
            _(
                "An account with this e-mail address exists, and it cannot be signed in "
                "through %(label)s. Log in with your password, or ask your school's "
                "administrator."
            )
            % {"label": identity_provider.label}
        )
    if not user.is_active:
        raise ApplicationError(_("This account is disabled."))
    if linked_user is None and not email_verified:
        raise ApplicationError(
            _(
                "Your identity provider has not verified your e-mail address, so it cannot "
                "be connected to your existing account."
            )
        )
    return user


def _display_name(fields: dict[str, Any], email: str) -> str:
    name = fields.get("name") or " ".join(
        part for part in (fields.get("first_name"), fields.get("last_name")) if part
    )
    name = " ".join(str(name or "").split()) or email.partition("@")[0]
    return name[:NAME_MAX_LENGTH]


def sso_user_populate(
    *,
    identity_provider: IdentityProvider | None,
    user: User,
    fields: dict[str, Any],
    language: str,
) -> User:
    """Fill in the unsaved account allauth proposes for a first sign-in, from the
    provider's common fields (e-mail, name): the provider's school, the default role
    (sso_user_create applies the mapping), no usable password. Saves nothing."""
    email = (fields.get("email") or "").strip()
    user.email = email
    user.username = email.lower()
    user.display_name = _display_name(fields, email)
    user.school = identity_provider.school if identity_provider else None
    user.role = identity_provider.default_role if identity_provider else Role.STUDENT
    user.preferred_language = (
        language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    )
    user.set_unusable_password()
    return user


def sso_user_create(
    *, identity_provider: IdentityProvider, sociallogin: SocialLogin, request: HttpRequest
) -> User:
    """Save a first sign-in's account (prepared by sso_user_populate) in the provider's
    school with the mapped role, with its SocialAccount and e-mail address. The caller
    ran sso_user_match, which found no account."""
    user = sociallogin.user
    claims = identity_claims(
        identity_provider=identity_provider, extra_data=sociallogin.account.extra_data
    )
    user.school = identity_provider.school
    user.role = identity_role(identity_provider=identity_provider, claims=claims)
    user.set_unusable_password()
    try:
        with transaction.atomic():
            sociallogin.save(request)
    except IntegrityError as exc:  # a concurrent sign-up with the same e-mail won
        raise ApplicationError(_("An account with this e-mail address already exists.")) from exc
    return user


def sso_user_sync(*, identity_provider: IdentityProvider, user: User, extra_data: dict) -> User:
    """On a later sign-in (or when connecting), take the role from the provider when the
    provider is set to keep it in step. The caller ran sso_user_match for `user`."""
    if not identity_provider.sync_role:
        return user
    claims = identity_claims(identity_provider=identity_provider, extra_data=extra_data)
    role = identity_role(identity_provider=identity_provider, claims=claims)
    if role != user.role:
        before = user.role
        user.role = role
        user.save(update_fields=["role"])
        audit_record(
            action=AuditAction.ROLE_CHANGE,
            subject=user,
            target=identity_provider,
            school_id=identity_provider.school_id,
            metadata={"from": str(before), "to": str(role), "by": "sso"},
        )
    return user


def sso_login_record(
    *, user: User, identity_provider: IdentityProvider, created: bool, connected: bool
) -> None:
    """The audit entry for a completed SSO sign-in."""
    audit_record(
        action=AuditAction.LOGIN,
        actor=user,
        target=identity_provider,
        school_id=identity_provider.school_id,
        metadata={
            "method": "sso",
            "protocol": "oidc" if identity_provider.protocol == OIDC else "saml",
            "created": created,
            "connected": connected,
        },
    )
