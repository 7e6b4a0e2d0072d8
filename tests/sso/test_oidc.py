"""OpenID Connect sign-in, driven through the real flow: the login link redirects to the
test provider's authorize URL, the provider answers with a code, and allauth exchanges
it at the provider's token endpoint over HTTP."""

from urllib.parse import parse_qs, urlparse

import pytest
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.urls import reverse

from accounts.models import Role, User
from privacy.models import AuditAction, AuditEvent
from tests.factories import PASSWORD, SchoolFactory, StudentFactory, UserFactory
from tests.sso.conftest import CLIENT_ID, OIDCProvider, oidc_identity_provider, rsa_key

pytestmark = pytest.mark.django_db

ADA = {
    "sub": "u-ada",
    "email": "ada@greenwood.example",
    "email_verified": True,
    "name": "Ada Lovelace",
    "groups": ["staff", "maths"],
}


def start(client, identity_provider) -> str:
    """Click "Sign in with ...": the provider's authorize URL."""
    url = reverse("openid_connect_login", kwargs={"provider_id": identity_provider.app.provider_id})
    response = client.get(url)
    assert response.status_code == 302
    return response["Location"]


def sign_in(client, server: OIDCProvider, identity_provider, claims: dict):
    callback = server.authorize(start(client, identity_provider), claims)
    return client.get(callback)


def logged_in_as(client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


def nothing_happened(client, users_before: int) -> None:
    assert User.objects.count() == users_before
    assert not SocialAccount.objects.exists()
    assert not AuditEvent.objects.exists()
    assert logged_in_as(client) is None


def test_first_sign_in_creates_the_account_in_the_school_with_the_mapped_role(client, oidc_server):
    # given a school whose Keycloak maps the "staff" group to teachers
    idp = oidc_identity_provider(oidc_server)

    # when Ada clicks the button
    authorize_url = start(client, idp)

    # then she is sent to the provider with state, nonce and PKCE
    query = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()}
    assert authorize_url.startswith(f"{oidc_server.url}/authorize?")
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == "http://testserver/sso/oidc/greenwood-oidc/login/callback/"
    assert set(query["scope"].split()) == {"openid", "profile", "email"}
    assert len(query["state"]) >= 16
    assert len(query["nonce"]) == 64
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"]

    # when she signs in at the provider and comes back with a code
    response = client.get(oidc_server.authorize(authorize_url, ADA))

    # then the code was exchanged with the PKCE verifier, and she is in, in her school
    assert oidc_server.token_requests[0]["code_verifier"]
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:dashboard")
    user = User.objects.get(email="ada@greenwood.example")
    assert (user.school, user.role, user.display_name) == (idp.school, Role.TEACHER, "Ada Lovelace")
    assert user.username == "ada@greenwood.example"
    assert not user.has_usable_password()
    assert logged_in_as(client) == user.pk
    account = SocialAccount.objects.get()
    assert (account.user, account.provider, account.uid) == (user, "greenwood-oidc", "u-ada")
    assert not SocialToken.objects.exists()
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.school_id) == (AuditAction.LOGIN, user, idp.school_id)
    assert (event.target_type, event.target_id) == ("sso.identityprovider", idp.id)
    assert event.metadata == {
        "method": "sso",
        "protocol": "oidc",
        "created": True,
        "connected": False,
    }
    assert client.get(reverse("accounts:dashboard")).status_code == 200


def test_a_later_sign_in_finds_the_same_account(client, oidc_server):
    idp = oidc_identity_provider(oidc_server)
    sign_in(client, oidc_server, idp, ADA)
    client.logout()

    response = sign_in(client, oidc_server, idp, {**ADA, "groups": []})

    assert response.status_code == 302
    user = User.objects.get()
    assert logged_in_as(client) == user.pk
    # the role was set once; the provider is not set to keep it in step
    assert user.role == Role.TEACHER
    assert SocialAccount.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN).count() == 2
    assert AuditEvent.objects.latest("id").metadata["created"] is False


def test_the_role_follows_the_provider_when_set_to(client, oidc_server):
    idp = oidc_identity_provider(oidc_server, sync_role=True)
    sign_in(client, oidc_server, idp, {**ADA, "groups": ["it-admins", "staff"]})
    assert User.objects.get().role == Role.SCHOOL_ADMIN  # the highest mapped group
    client.logout()

    sign_in(client, oidc_server, idp, {**ADA, "groups": []})

    user = User.objects.get()
    assert user.role == Role.STUDENT  # the default role
    change = AuditEvent.objects.get(action=AuditAction.ROLE_CHANGE)
    assert (change.subject, change.metadata) == (
        user,
        {"from": "school_admin", "to": "student", "by": "sso"},
    )


def test_an_existing_account_of_the_same_school_is_connected(client, oidc_server):
    # given Grace already has a local account in the school (e-mail in another case)
    idp = oidc_identity_provider(oidc_server)
    grace = StudentFactory(email="Grace@Greenwood.example", school=idp.school)

    # when she signs in through the school's provider for the first time
    response = sign_in(
        client,
        oidc_server,
        idp,
        {"sub": "u-grace", "email": "grace@greenwood.example", "email_verified": True},
    )

    # then that account is the one she is in, and her password still works
    assert response.status_code == 302
    assert User.objects.count() == 1
    assert logged_in_as(client) == grace.pk
    assert SocialAccount.objects.get().user == grace
    grace.refresh_from_db()
    assert (grace.role, grace.display_name) == (Role.STUDENT, grace.display_name)
    assert grace.check_password(PASSWORD)
    assert AuditEvent.objects.get().metadata["connected"] is True


@pytest.mark.parametrize("owner", ["other_school", "no_school", "superuser"])
def test_an_address_of_another_schools_account_is_never_taken_over(client, oidc_server, owner):
    # given an account with this address outside the provider's school
    idp = oidc_identity_provider(oidc_server)
    victim = {
        "other_school": lambda: UserFactory(
            email="head@greenwood.example", role=Role.SCHOOL_ADMIN, school=SchoolFactory()
        ),
        "no_school": lambda: StudentFactory(email="head@greenwood.example"),
        "superuser": lambda: UserFactory(
            email="head@greenwood.example", is_staff=True, is_superuser=True
        ),
    }[owner]()
    before = User.objects.count()

    # when someone signs in through this school's provider with that address
    response = sign_in(
        client,
        oidc_server,
        idp,
        {"sub": "u-head", "email": "head@greenwood.example", "email_verified": True},
    )

    # then it is refused, saying why, and nothing changed
    assert response.status_code == 403
    assert "cannot be signed in through Greenwood Keycloak" in response.content.decode()
    nothing_happened(client, before)
    victim.refresh_from_db()
    assert victim.check_password(PASSWORD)


def test_an_unverified_address_is_not_connected_to_an_existing_account(client, oidc_server):
    idp = oidc_identity_provider(oidc_server, email_domains="")
    StudentFactory(email="grace@greenwood.example", school=idp.school)
    before = User.objects.count()

    response = sign_in(
        client,
        oidc_server,
        idp,
        {"sub": "u-grace", "email": "grace@greenwood.example", "email_verified": False},
    )

    assert response.status_code == 403
    assert "has not verified your e-mail address" in response.content.decode()
    nothing_happened(client, before)


def test_an_address_outside_the_providers_domains_is_refused(client, oidc_server):
    idp = oidc_identity_provider(oidc_server)

    response = sign_in(client, oidc_server, idp, {**ADA, "email": "ada@elsewhere.example"})

    assert response.status_code == 403
    nothing_happened(client, 0)


def test_an_id_token_with_a_bad_signature_is_refused(client, oidc_server):
    # given a provider whose id_token is signed with a key that is not in its JWKS
    idp = oidc_identity_provider(oidc_server)
    oidc_server.forged_key = rsa_key()

    response = sign_in(client, oidc_server, idp, ADA)

    assert response.status_code == 401
    assert "did not work" in response.content.decode()
    nothing_happened(client, 0)


def test_an_id_token_for_another_sign_in_is_refused(client, oidc_server):
    # given the code's id_token carries another sign-in's nonce
    idp = oidc_identity_provider(oidc_server)
    callback = oidc_server.authorize(start(client, idp), ADA)
    next(iter(oidc_server.grants.values())).nonce = "0" * 64

    response = client.get(callback)

    assert response.status_code == 401
    nothing_happened(client, 0)


def test_a_callback_whose_state_this_browser_did_not_start_is_refused(client, oidc_server):
    idp = oidc_identity_provider(oidc_server)
    callback = oidc_server.authorize(start(client, idp), ADA)
    forged = callback.replace("state=", "state=forged")

    response = client.get(forged)

    assert response.status_code == 401
    assert not oidc_server.token_requests  # the code was never exchanged
    nothing_happened(client, 0)


def test_a_callback_in_another_browser_is_refused(client, oidc_server):
    from django.test import Client

    idp = oidc_identity_provider(oidc_server)
    callback = oidc_server.authorize(start(client, idp), ADA)

    response = Client().get(callback)  # an attacker's link, opened by someone else

    assert response.status_code == 401
    nothing_happened(client, 0)


def test_only_plain_sign_in_is_accepted(client, oidc_server):
    # given a logged-in local user who tries to attach a provider identity
    idp = oidc_identity_provider(oidc_server)
    grace = StudentFactory(email="grace@greenwood.example", school=idp.school)
    client.force_login(grace)
    url = reverse("openid_connect_login", kwargs={"provider_id": idp.app.provider_id})
    authorize_url = client.get(url, {"process": "connect"})["Location"]

    response = client.get(oidc_server.authorize(authorize_url, ADA))

    assert response.status_code == 403
    assert not SocialAccount.objects.exists()
    assert User.objects.count() == 1


def test_a_provider_that_serves_no_school_is_refused(client, oidc_server):
    idp = oidc_identity_provider(oidc_server)
    app = idp.app
    idp.delete()

    response = client.get(reverse("openid_connect_login", kwargs={"provider_id": app.provider_id}))
    callback = oidc_server.authorize(response["Location"], ADA)
    response = client.get(callback)

    assert response.status_code == 403
    nothing_happened(client, 0)


def test_a_disabled_provider_signs_nobody_in(client, oidc_server):
    idp = oidc_identity_provider(oidc_server, enabled=False)

    response = sign_in(client, oidc_server, idp, ADA)

    assert response.status_code == 403
    nothing_happened(client, 0)
