"""Single sign-on pages: finding a school's provider, and the OpenID Connect endpoints
(with sso.oidc's stricter adapter). SAML's endpoints are allauth's own (sso/urls.py)."""

from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from sso import selectors
from sso.oidc import OpenIDConnectAdapter
from sso.templatetags.sso import login_url_with_next


@require_GET
def provider_find(request: HttpRequest) -> HttpResponse:
    """The school's "Sign in with ..." button for the e-mail address typed, if any."""
    email = request.GET.get("email", "").strip()[:254]
    identity_provider = selectors.identity_provider_for_email(email=email) if email else None
    context = {"email": email, "identity_provider": identity_provider}
    if identity_provider is not None:
        context["login_url"] = login_url_with_next(
            request,
            selectors.identity_provider_login_url(
                identity_provider=identity_provider, request=request
            ),
            request.GET.get(REDIRECT_FIELD_NAME, ""),
        )
    return render(request, "sso/find.html", context)


def login_cancelled(request: HttpRequest) -> HttpResponse:
    """allauth sends here (socialaccount_login_cancelled) when the person said no at the
    identity provider."""
    return render(request, "sso/refused.html", {"message": _("Sign-in was cancelled.")})


def oidc_login(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        view = OAuth2LoginView.adapter_view(OpenIDConnectAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist as exc:
        raise Http404("No such identity provider.") from exc


def oidc_callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        view = OAuth2CallbackView.adapter_view(OpenIDConnectAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist as exc:
        raise Http404("No such identity provider.") from exc
