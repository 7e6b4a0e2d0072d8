"""{% sso_login_options %}: the "Sign in with ..." buttons and the find-your-school form
for the login page (nothing when no school has single sign-on)."""

from django import template
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from sso import selectors

register = template.Library()


def login_url_with_next(request, url: str, next_url: str) -> str:
    """`url` carrying ?next= when `next_url` is a page of this site."""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return f"{url}?{urlencode({REDIRECT_FIELD_NAME: next_url})}"
    return url


@register.inclusion_tag("sso/login_options.html", takes_context=True)
def sso_login_options(context) -> dict:
    request = context["request"]
    next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
    buttons = [
        {
            "label": idp.label,
            "url": login_url_with_next(
                request,
                selectors.identity_provider_login_url(identity_provider=idp, request=request),
                next_url,
            ),
        }
        for idp in selectors.identity_providers_for_login()
    ]
    return {
        "buttons": buttons,
        "offer_find": selectors.identity_provider_any_with_domains(),
        "next": next_url,
    }
