"""SAML sign-in against a test identity provider with its own certificate: the login
link carries an AuthnRequest (HTTP-Redirect), the test posts the provider's signed
Response to the ACS, as a browser would."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from accounts.models import Role, User
from privacy.models import AuditAction, AuditEvent
from tests.sso.conftest import SAMLProvider, rsa_key, saml_identity_provider, self_signed

pytestmark = pytest.mark.django_db

HOST = "exocortex.greenwood.example"
ACS_URL = f"http://{HOST}/sso/saml/greenwood/acs/"
SP_ENTITY_ID = f"http://{HOST}/sso/saml/greenwood/metadata/"
ADA = {
    "uid": ["ada"],
    "email": ["ada@greenwood.example"],
    "name": ["Ada Lovelace"],
    "groups": ["staff"],
}


@pytest.fixture
def browser(client, settings):
    # python3-saml builds the URLs it checks from the Host header, which browsers send,
    # and refuses single-label hosts such as "testserver".
    settings.ALLOWED_HOSTS = [HOST]
    client.defaults["HTTP_HOST"] = HOST
    return client


def start(client) -> dict[str, str]:
    response = client.get(reverse("saml_login", kwargs={"organization_slug": "greenwood"}))
    assert response.status_code == 302
    return response["Location"]


def post_response(client, request: dict[str, str], saml_response: str):
    """The browser posts the provider's answer to the ACS, which hands over to a
    same-site page that finishes the sign-in."""
    acs = client.post(
        request["acs_url"], {"SAMLResponse": saml_response, "RelayState": request["relay_state"]}
    )
    assert acs.status_code == 302
    assert acs["Location"] == reverse("saml_finish_acs", kwargs={"organization_slug": "greenwood"})
    return client.get(acs["Location"])


def refused_and_nothing_changed(
    client, response, *, status: int = 401, log=None, reason=""
) -> None:
    assert response.status_code == status
    if log is not None:  # the page does not say why; the log does
        assert reason in log.text
    assert User.objects.count() == 0
    assert not SocialAccount.objects.exists()
    assert not AuditEvent.objects.exists()
    assert "_auth_user_id" not in client.session


def test_a_signed_response_signs_the_person_in_with_their_attributes(browser, saml_idp):
    # given a school whose SAML provider maps "staff" to teachers
    idp = saml_identity_provider(saml_idp)

    # when Ada clicks the button, the provider gets an AuthnRequest for our ACS
    request = saml_idp.read_request(start(browser))
    assert request["acs_url"] == ACS_URL
    assert request["sp_entity_id"] == SP_ENTITY_ID
    assert request["destination"] == "https://idp.greenwood.example/saml/sso"
    assert request["id"]

    # and when it answers with a signed Response
    response = post_response(browser, request, saml_idp.response(request, ADA))

    # then she is in, in the provider's school, with her name and mapped role
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:dashboard")
    user = User.objects.get()
    assert (user.email, user.display_name, user.school, user.role) == (
        "ada@greenwood.example",
        "Ada Lovelace",
        idp.school,
        Role.TEACHER,
    )
    assert not user.has_usable_password()
    assert int(browser.session["_auth_user_id"]) == user.pk
    account = SocialAccount.objects.get()
    assert (account.provider, account.uid) == ("greenwood-saml", "ada")
    event = AuditEvent.objects.get()
    assert (event.action, event.actor) == (AuditAction.LOGIN, user)
    assert event.metadata["protocol"] == "saml"


def test_an_unsigned_response_is_refused(browser, saml_idp, caplog):
    saml_identity_provider(saml_idp)
    request = saml_idp.read_request(start(browser))

    response = post_response(browser, request, saml_idp.response(request, ADA, signed=False))

    refused_and_nothing_changed(browser, response, log=caplog, reason="No Signature found")


def test_a_response_signed_with_another_key_is_refused(browser, saml_idp, caplog):
    saml_identity_provider(saml_idp)
    request = saml_idp.read_request(start(browser))
    _cert, forger_key = self_signed(rsa_key(), "idp.greenwood.example")
    forged = SAMLProvider(cert=saml_idp.cert, key=forger_key)

    response = post_response(browser, request, forged.response(request, ADA))

    refused_and_nothing_changed(browser, response, log=caplog, reason="Signature validation failed")


def test_a_response_altered_after_signing_is_refused(browser, saml_idp, caplog):
    saml_identity_provider(saml_idp)
    request = saml_idp.read_request(start(browser))
    signed = base64.b64decode(saml_idp.response(request, ADA)).decode()
    altered = signed.replace("ada@greenwood.example", "head@greenwood.example")

    response = post_response(browser, request, base64.b64encode(altered.encode()).decode())

    refused_and_nothing_changed(browser, response, log=caplog, reason="Signature validation failed")


def test_a_response_for_another_service_is_refused(browser, saml_idp, caplog):
    saml_identity_provider(saml_idp)
    request = saml_idp.read_request(start(browser))

    response = post_response(
        browser, request, saml_idp.response(request, ADA, audience="https://other.example/sp")
    )

    refused_and_nothing_changed(browser, response, log=caplog, reason="is not a valid audience")


def test_an_expired_response_is_refused(browser, saml_idp, caplog):
    saml_identity_provider(saml_idp)
    request = saml_idp.read_request(start(browser))
    expired = datetime.now(UTC) - timedelta(minutes=10)

    response = post_response(
        browser, request, saml_idp.response(request, ADA, not_on_or_after=expired)
    )

    refused_and_nothing_changed(
        browser, response, log=caplog, reason="Could not validate timestamp: expired"
    )


def test_a_response_to_no_request_of_ours_is_refused(browser, saml_idp):
    # given a provider answering a request this browser never made (IdP-initiated)
    saml_identity_provider(saml_idp)
    request = saml_idp.read_request(start(browser))
    browser.cookies.clear()

    response = post_response(browser, request, saml_idp.response(request, ADA))

    refused_and_nothing_changed(browser, response, status=403)


def test_the_metadata_names_the_acs_for_the_providers_admin(browser, saml_idp):
    saml_identity_provider(saml_idp)

    response = browser.get(reverse("saml_metadata", kwargs={"organization_slug": "greenwood"}))

    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert f'entityID="{SP_ENTITY_ID}"' in body
    assert f'Location="{ACS_URL}"' in body
