"""Reads for single sign-on: which identity providers a login page offers."""

from allauth.socialaccount.models import SocialApp
from django.db.models import QuerySet

from sso.models import IdentityProvider


def identity_providers_for_login() -> QuerySet[IdentityProvider]:
    """The enabled providers whose button the login page shows."""
    return (
        IdentityProvider.objects.filter(enabled=True, show_on_login_page=True)
        .select_related("app")
        .order_by("label", "id")
    )


def identity_provider_for_email(*, email: str) -> IdentityProvider | None:
    """The enabled provider that serves the e-mail address's domain, if any."""
    domain = email.strip().rpartition("@")[2].lower()
    if not domain:
        return None
    candidates = IdentityProvider.objects.filter(
        enabled=True, email_domains__icontains=domain
    ).select_related("app")
    return next((idp for idp in candidates if domain in idp.domains), None)


def identity_provider_for_app(*, app: SocialApp) -> IdentityProvider | None:
    """The provider configured for allauth's `app` (None when the app serves no school)."""
    if app.pk is None:  # apps from settings belong to no school
        return None
    return IdentityProvider.objects.filter(app_id=app.pk).select_related("school", "app").first()


def identity_provider_login_url(*, identity_provider: IdentityProvider, request) -> str:
    """Where the "Sign in with ..." button points."""
    provider = identity_provider.app.get_provider(request)
    return provider.get_login_url(request)


def identity_provider_any_with_domains() -> bool:
    """Whether the login page should offer finding a provider by e-mail address."""
    return IdentityProvider.objects.filter(enabled=True).exclude(email_domains="").exists()
