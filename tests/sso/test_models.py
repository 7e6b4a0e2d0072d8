"""What the admin site accepts as a school's identity provider."""

import pytest
from allauth.socialaccount.models import SocialApp
from django.core.exceptions import ValidationError
from django.urls import reverse

from sso.models import IdentityProvider
from tests.factories import SchoolFactory, UserFactory
from tests.sso.conftest import oidc_identity_provider, saml_identity_provider

pytestmark = pytest.mark.django_db


def errors_of(identity_provider: IdentityProvider) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        identity_provider.full_clean()
    return exc.value.message_dict


def test_a_complete_provider_is_accepted_and_its_domains_tidied(oidc_server):
    idp = oidc_identity_provider(
        oidc_server, email_domains="@Greenwood.example pupils.greenwood.example"
    )
    idp.full_clean()
    assert idp.email_domains == "greenwood.example, pupils.greenwood.example"
    assert idp.serves_email("x@PUPILS.greenwood.example")
    assert not idp.serves_email("x@greenwood.example.evil")


def test_a_domain_another_school_serves_is_refused(oidc_server):
    oidc_identity_provider(oidc_server)
    app = SocialApp.objects.create(
        provider="openid_connect",
        provider_id="rival",
        name="Rival",
        client_id="c",
        settings={"server_url": oidc_server.url},
    )
    rival = IdentityProvider(
        app=app, school=SchoolFactory(), label="Rival", email_domains="greenwood.example"
    )
    assert "email_domains" in errors_of(rival)


def test_a_shared_provider_id_is_refused(oidc_server, saml_idp):
    oidc_identity_provider(oidc_server)
    app = SocialApp.objects.create(
        provider="openid_connect",
        provider_id="greenwood-oidc",
        name="Copy",
        client_id="c",
        settings={"server_url": oidc_server.url},
    )
    copy = IdentityProvider(app=app, school=SchoolFactory(), label="Copy")
    assert "app" in errors_of(copy)


@pytest.mark.parametrize(
    ("provider", "provider_id", "settings"),
    [
        ("google", "g", {}),
        ("openid_connect", "", {"server_url": "https://idp.example"}),
        ("openid_connect", "x", {}),
        ("saml", "x", {"idp": {"entity_id": "e"}}),
    ],
)
def test_an_incomplete_app_is_refused(provider, provider_id, settings):
    app = SocialApp.objects.create(
        provider=provider, provider_id=provider_id, name="x", client_id="x", settings=settings
    )
    assert "app" in errors_of(IdentityProvider(app=app, school=SchoolFactory(), label="x"))


def test_an_application_being_added_is_checked_too():
    app = SocialApp(provider="saml", provider_id="new", name="x", client_id="x", settings={})
    idp = IdentityProvider(app=app, school=SchoolFactory(), label="x")
    with pytest.raises(ValidationError) as exc:
        idp.clean()
    assert "app" in exc.value.message_dict


def test_roles_must_be_exocortex_roles(saml_idp):
    idp = saml_identity_provider(saml_idp, role_mapping={"staff": "headmaster"})
    assert "role_mapping" in errors_of(idp)


def test_the_admin_site_edits_a_provider_on_its_application(client, oidc_server):
    idp = oidc_identity_provider(oidc_server)
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)

    page = client.get(reverse("admin:socialaccount_socialapp_change", args=[idp.app.pk]))
    listing = client.get(reverse("admin:sso_identityprovider_changelist"))

    assert page.status_code == 200
    assert "identity_provider-0-role_mapping" in page.content.decode()
    assert listing.status_code == 200
    assert "Greenwood Keycloak" in listing.content.decode()
