"""The tool's keys: the JWKS endpoint, and rotation with a grace period during which the
previous key stays published and launches keep working."""

from datetime import timedelta
from io import StringIO

import jwt
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from lti import services
from lti.models import LtiToolKey
from tests.lti.conftest import launch
from tests.lti.test_deep_linking import deep_linking_claims, pick, verify_with_jwks

pytestmark = pytest.mark.django_db


def kids(client: Client) -> list[str]:
    return [key["kid"] for key in client.get("/lti/jwks/").json()["keys"]]


def test_the_jwks_endpoint_publishes_public_keys_only(client):
    # Given a signing key
    key = services.tool_key_current()

    # When a platform fetches the JWKS
    response = client.get("/lti/jwks/")

    # Then it gets the public RSA key under its kid, and nothing private
    assert response.status_code == 200
    (published,) = response.json()["keys"]
    assert published["kid"] == key.kid
    assert (published["kty"], published["alg"], published["use"]) == ("RSA", "RS256", "sig")
    assert {"n", "e"} <= published.keys()
    assert not {"d", "p", "q", "dp", "dq", "qi"} & published.keys()


def test_rotation_keeps_the_previous_key_published_and_launches_working(
    test_platform, published, lms_client
):
    # Given a deep linking answer signed with the current key
    request, _token, _state = launch(lms_client, test_platform, **deep_linking_claims())
    old_jwt = pick(Client(), request, str(published.course.id)).context["jwt"]
    old_kid = jwt.get_unverified_header(old_jwt)["kid"]

    # When the keys are rotated
    out = StringIO()
    call_command("lti_rotate_keys", "--grace-days", "7", stdout=out)

    # Then the JWKS lists the new key and the previous one
    new_kid = LtiToolKey.objects.get(retires_at__isnull=True).kid
    assert new_kid != old_kid
    assert kids(lms_client) == [new_kid, old_kid]
    assert "2 key(s) published" in out.getvalue()
    # what the old key signed still verifies
    assert verify_with_jwks(lms_client, old_jwt)["iss"] == "exocortex-client"
    # new answers are signed with the new key, and verify too
    request, _token, _state = launch(Client(), test_platform, **deep_linking_claims())
    new_jwt = pick(Client(), request, str(published.course.id)).context["jwt"]
    assert jwt.get_unverified_header(new_jwt)["kid"] == new_kid
    assert verify_with_jwks(lms_client, new_jwt)
    # and learners' launches go on as before
    opened, _token, _state = launch(
        Client(),
        test_platform,
        **{
            "https://purl.imsglobal.org/spec/lti/claim/custom": {
                "exocortex_course": str(published.course.id)
            }
        },
    )
    assert opened.status_code == 302


def test_a_key_leaves_the_jwks_after_its_grace_and_is_deleted_at_the_next_rotation(client):
    # Given a key rotated out with a one-day grace
    first = services.tool_key_current()
    second = services.tool_key_rotate(grace=timedelta(days=1))
    assert kids(client) == [second.kid, first.kid]

    # When the day has passed
    LtiToolKey.objects.filter(pk=first.pk).update(retires_at=timezone.now() - timedelta(seconds=1))

    # Then the JWKS no longer lists it, and the next rotation deletes it
    assert kids(client) == [second.kid]
    third = services.tool_key_rotate(grace=timedelta(days=1))
    assert list(LtiToolKey.objects.values_list("kid", flat=True)) == [third.kid, second.kid]
