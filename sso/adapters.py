"""allauth's hooks, turned into calls to sso.services (settings: ACCOUNT_ADAPTER,
SOCIALACCOUNT_ADAPTER). No allauth form or e-mail is ever shown: a sign-in either
lands in an account or is refused with a page that says why."""

import logging
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.base import AuthProcess
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.models import User
from common.errors import ApplicationError
from sso import selectors, services
from sso.models import IdentityProvider

logger = logging.getLogger(__name__)

# sociallogin.state key: this sign-in connected the identity to an existing account.
CONNECTED = "sso_connected"


def refused(request: HttpRequest, message: str, *, status: int = 403) -> HttpResponse:
    return render(request, "sso/refused.html", {"message": message}, status=status)


class AccountAdapter(DefaultAccountAdapter):
    """allauth's local accounts are not used: our own pages sign up and log in."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def add_message(self, *args: Any, **kwargs: Any) -> None:
        """allauth's "Successfully signed in" messages are not ours to show."""

    def respond_user_inactive(self, request: HttpRequest, user) -> HttpResponse:
        return refused(request, _("This account is disabled."))

    def post_login(self, request: HttpRequest, user, **kwargs: Any) -> HttpResponse:
        response = super().post_login(request, user, **kwargs)
        sociallogin = (kwargs.get("signal_kwargs") or {}).get("sociallogin")
        if sociallogin is not None:
            identity_provider = selectors.identity_provider_for_app(app=sociallogin.provider.app)
            if identity_provider is not None:
                services.sso_login_record(
                    user=user,
                    identity_provider=identity_provider,
                    created=bool(kwargs.get("signup")),
                    connected=bool(sociallogin.state.get(CONNECTED)),
                )
        return response


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def _identity_provider(
        self, request: HttpRequest, sociallogin: SocialLogin
    ) -> IdentityProvider:
        identity_provider = selectors.identity_provider_for_app(app=sociallogin.provider.app)
        if identity_provider is None:
            raise ImmediateHttpResponse(
                refused(request, _("This identity provider is not set up for any school."))
            )
        return identity_provider

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict) -> User:
        return services.sso_user_populate(
            identity_provider=selectors.identity_provider_for_app(app=sociallogin.provider.app),
            user=sociallogin.user,
            fields=data,
            language=getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE),
        )

    def is_email_verified(self, provider, email: str) -> bool:
        """Verified when the provider says so, or when it is in the domains the school
        set for this provider (SAML providers rarely say so; they own their directory)."""
        if super().is_email_verified(provider, email):
            return True
        identity_provider = selectors.identity_provider_for_app(app=provider.app)
        return bool(
            identity_provider is not None
            and identity_provider.domains
            and identity_provider.serves_email(email)
        )

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        """Runs once the provider's answer is verified: decide whose account this is."""
        identity_provider = self._identity_provider(request, sociallogin)
        if sociallogin.state.get("process", AuthProcess.LOGIN) != AuthProcess.LOGIN:
            raise ImmediateHttpResponse(
                refused(request, _("Use the sign-in buttons on the login page."))
            )
        address = sociallogin.email_addresses[0] if sociallogin.email_addresses else None
        linked_user = sociallogin.user if sociallogin.is_existing else None
        try:
            user = services.sso_user_match(
                identity_provider=identity_provider,
                linked_user=linked_user,
                email=address.email if address else "",
                email_verified=bool(address and address.verified),
            )
        except ApplicationError as exc:
            logger.info("sso: sign-in through %s refused", identity_provider.app.provider_id)
            raise ImmediateHttpResponse(refused(request, exc.message)) from exc
        if user is not None and linked_user is None:
            sociallogin.connect(request, user)
            sociallogin.state[CONNECTED] = True
        if user is not None:
            services.sso_user_sync(
                identity_provider=identity_provider,
                user=user,
                extra_data=sociallogin.account.extra_data,
            )

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        # pre_social_login has vetted the sign-in; a first one creates the account.
        return True

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form=None) -> User:
        identity_provider = self._identity_provider(request, sociallogin)
        try:
            return services.sso_user_create(
                identity_provider=identity_provider, sociallogin=sociallogin, request=request
            )
        except ApplicationError as exc:
            raise ImmediateHttpResponse(refused(request, exc.message)) from exc

    def on_authentication_error(
        self, request: HttpRequest, provider, error=None, exception=None, extra_context=None
    ) -> None:
        # The reason (bad signature, unknown state, expired assertion) is for the log,
        # not the page; no personal data is in it.
        logger.warning(
            "sso: sign-in through %s failed: %s %s",
            getattr(provider.app, "provider_id", provider.id),
            error,
            exception or (extra_context or {}).get("saml_last_error_reason", ""),
        )
