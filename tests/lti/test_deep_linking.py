"""Deep linking: a teacher picks a course or lesson; the LMS gets a JWT signed by the
tool's key that verifies against the JWKS endpoint, and the link it places launches."""

import jwt
import pytest
from django.test import Client

from lti import services
from lti.models import LtiIdentity, LtiResourceLink
from tests.lti.conftest import CLAIM, CLIENT_ID, DL_SETTINGS, ISSUER, RETURN_URL, launch
from tests.lti.test_launch import assert_refused, counts

pytestmark = pytest.mark.django_db


def deep_linking_claims(roles=None) -> dict:
    return {
        CLAIM + "message_type": "LtiDeepLinkingRequest",
        CLAIM + "resource_link": None,
        CLAIM + "roles": roles or [services.ROLE_INSTRUCTOR],
        "sub": "lms-teacher-1",
        "email": "grace@school.example",
        DL_SETTINGS: {
            "deep_link_return_url": RETURN_URL,
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "data": "opaque-platform-data",
        },
    }


def verify_with_jwks(client: Client, token: str) -> dict:
    """Check `token` as a platform does: the key named by its kid, from our JWKS URL."""
    jwks = client.get("/lti/jwks/").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=ISSUER, issuer=CLIENT_ID)


def pick(client: Client, response, target: str):
    return client.post("/lti/deep-link/", {"token": response.context["token"], "target": target})


def test_a_deep_linking_request_shows_the_schools_published_content(
    test_platform, published, other_school_course, lms_client
):
    # When an instructor's LMS asks what to place
    response, _token, _state = launch(lms_client, test_platform, **deep_linking_claims())

    # Then the picker (which the platform may frame) offers this school's content only
    assert response.status_code == 200
    assert b'data-testid="lti-deep-link"' in response.content
    assert f'value="{published.course.id}:{published.lesson.id}"'.encode() in response.content
    assert f'value="{published.course.id}"'.encode() in response.content
    assert f'value="{other_school_course.course.id}"'.encode() not in response.content
    assert "frame-ancestors 'self' https://lms.example.edu" in response["Content-Security-Policy"]


def test_picking_a_lesson_answers_with_a_signed_jwt_that_verifies_against_the_jwks(
    test_platform, published, lms_client
):
    # Given the picker
    response, _token, _state = launch(lms_client, test_platform, **deep_linking_claims())

    # When the teacher picks a lesson (from inside the frame: no cookies, no CSRF token)
    answer = pick(
        Client(enforce_csrf_checks=True), response, f"{published.course.id}:{published.lesson.id}"
    )

    # Then the page posts a JWT back to the platform's return URL
    assert answer.status_code == 200
    assert f'action="{RETURN_URL}"'.replace("&", "&amp;").encode() in answer.content
    assert "form-action 'self' https://lms.example.edu" in answer["Content-Security-Policy"]
    # signed by the tool's key, as published on the JWKS endpoint
    claims = verify_with_jwks(lms_client, answer.context["jwt"])
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[CLAIM + "version"] == "1.3.0"
    assert claims[CLAIM + "deployment_id"] == "deployment-1"
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-platform-data"
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"] == [
        {
            "type": "ltiResourceLink",
            "title": "Adding fractions",
            "url": "http://testserver/lti/launch/",
            "custom": {
                "exocortex_course": str(published.course.id),
                "exocortex_lesson": str(published.lesson.id),
            },
        }
    ]

    # and the link the LMS places with it opens the lesson for a learner
    item = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"][0]
    student = Client()
    opened, _token, _state = launch(
        student,
        test_platform,
        sub="lms-student-9",
        email=None,
        **{CLAIM + "custom": item["custom"]},
    )
    assert opened.status_code == 302
    assert opened["Location"] == f"/learn/lessons/{published.lesson.id}/"
    assert student.get(opened["Location"]).status_code == 200
    assert LtiResourceLink.objects.get().lesson == published.lesson


def test_a_learner_cannot_deep_link(test_platform, published, lms_client):
    before = counts()

    response, _token, _state = launch(
        lms_client, test_platform, **deep_linking_claims(roles=[services.ROLE_LEARNER])
    )

    assert_refused(response)
    assert counts() == before


def test_a_tampered_picker_token_is_refused(test_platform, published, lms_client):
    response, _token, _state = launch(lms_client, test_platform, **deep_linking_claims())
    token = response.context["token"]

    answer = Client().post(
        "/lti/deep-link/", {"token": token[:-2] + "xx", "target": str(published.course.id)}
    )

    assert_refused(answer, 400)


def test_another_schools_course_cannot_be_picked(
    test_platform, published, other_school_course, lms_client
):
    response, _token, _state = launch(lms_client, test_platform, **deep_linking_claims())

    answer = pick(Client(), response, str(other_school_course.course.id))

    assert_refused(answer, 400)
    assert LtiIdentity.objects.count() == 1  # the teacher, from the request itself
