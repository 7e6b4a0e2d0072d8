"""The login page offers each school's single sign-on next to the password form; schools
without it see only the form. allauth's own account pages are not reachable."""

import pytest
from django.urls import NoReverseMatch, reverse

from tests.sso.conftest import oidc_identity_provider, saml_identity_provider

pytestmark = pytest.mark.django_db


def test_without_single_sign_on_the_page_is_the_password_form_only(client):
    body = client.get(reverse("accounts:login")).content.decode()

    assert 'name="password"' in body
    assert 'data-testid="sso-options"' not in body


def test_each_provider_has_its_button(client, oidc_server, saml_idp):
    oidc_identity_provider(oidc_server)
    saml_identity_provider(saml_idp, label="Greenwood SAML")
    oidc_identity_provider(
        oidc_server, provider_id="hidden-oidc", label="Hidden", show_on_login_page=False
    )

    body = client.get(reverse("accounts:login"), {"next": "/learn/"}).content.decode()

    assert 'name="password"' in body
    assert body.count('data-testid="sso-button"') == 2
    assert 'href="/sso/oidc/greenwood-oidc/login/?next=%2Flearn%2F"' in body
    assert "Sign in with Greenwood Keycloak" in body
    assert 'href="/sso/saml/greenwood/login/?next=%2Flearn%2F"' in body
    assert "Hidden" not in body
    assert 'action="/sso/find/"' in body


def test_a_next_url_of_another_site_is_dropped(client, oidc_server):
    oidc_identity_provider(oidc_server)

    body = client.get(reverse("accounts:login"), {"next": "https://evil.example/"}).content
    assert b'href="/sso/oidc/greenwood-oidc/login/"' in body


def test_the_school_is_found_from_the_email_domain(client, oidc_server):
    oidc_identity_provider(oidc_server, show_on_login_page=False)

    found = client.get(reverse("sso:find"), {"email": "Ada@Greenwood.Example"})
    unknown = client.get(reverse("sso:find"), {"email": "ada@elsewhere.example"})

    assert 'href="/sso/oidc/greenwood-oidc/login/"' in found.content.decode()
    assert "Sign in with Greenwood Keycloak" in found.content.decode()
    assert 'data-testid="sso-none"' in unknown.content.decode()
    assert 'data-testid="sso-button"' not in unknown.content.decode()


def test_allauths_local_account_pages_are_not_mounted(client):
    for name in (
        "account_login",
        "account_signup",
        "account_reset_password",
        "socialaccount_signup",
    ):
        with pytest.raises(NoReverseMatch):
            reverse(name)
    assert client.get("/sso/signup/").status_code == 404
    assert client.get("/sso/login/").status_code == 404
    assert client.get("/sso/oidc/nobody/login/").status_code == 404
    assert client.get("/sso/saml/nobody/login/").status_code == 404
