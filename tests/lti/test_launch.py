"""The launch: accepted with a valid signature, refused with a bad one, an expired one, a
replayed nonce, a wrong audience, an unknown deployment or another school's target."""

import time

import pytest
from django.test import Client

from accounts.models import Classroom, Membership, Role, User
from learning.models import CourseAssignment
from lti import services
from lti.models import LtiContext, LtiDeployment, LtiIdentity, LtiResourceLink
from privacy.models import AuditAction, AuditEvent
from tests.factories import UserFactory
from tests.lti.conftest import (
    AUTH_LOGIN_URL,
    CLAIM,
    CLIENT_ID,
    launch,
    login_initiation,
    rsa_key,
)

pytestmark = pytest.mark.django_db

CUSTOM = CLAIM + "custom"
INSTRUCTOR = services.ROLE_INSTRUCTOR
LEARNER = services.ROLE_LEARNER


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "identities": LtiIdentity.objects.count(),
        "classrooms": Classroom.objects.count(),
        "memberships": Membership.objects.count(),
        "contexts": LtiContext.objects.count(),
        "links": LtiResourceLink.objects.count(),
        "deployments": LtiDeployment.objects.count(),
        "assignments": CourseAssignment.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def logged_in_user(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def assert_refused(response, status: int = 403) -> None:
    assert response.status_code == status
    assert b'data-testid="lti-error"' in response.content
    assert b"Traceback" not in response.content


# --- login initiation -------------------------------------------------------------------


def test_login_initiation_redirects_to_the_platform_with_state_and_nonce(test_platform, lms_client):
    # Given a registered platform
    # When it starts a login
    answer = login_initiation(lms_client)

    # Then the browser goes to its authentication URL with a fresh state and nonce
    assert answer.response.status_code == 302
    params = answer.params
    assert params["_endpoint"] == AUTH_LOGIN_URL
    assert params["scope"] == "openid"
    assert params["response_type"] == "id_token"
    assert params["response_mode"] == "form_post"
    assert params["prompt"] == "none"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "http://testserver/lti/launch/"
    assert params["login_hint"] == "opaque-login-hint"
    assert params["lti_message_hint"] == "opaque-message-hint"
    assert params["state"].startswith("state-")
    assert len(params["nonce"]) >= 32
    # and the state is also in a cookie, which the launch must bring back
    assert answer.response.cookies[f"lti1p3-{params['state']}"].value == params["state"]
    # while a second login gets its own state and nonce
    again = login_initiation(lms_client)
    assert again.state != answer.state
    assert again.nonce != answer.nonce


def test_login_initiation_from_an_unknown_platform_is_refused(test_platform, lms_client):
    answer = login_initiation(lms_client, iss="https://elsewhere.example")

    assert_refused(answer.response, 400)


def test_login_initiations_are_rate_limited_per_address(test_platform, lms_client, settings):
    settings.LTI_LOGIN_ATTEMPTS_PER_ADDRESS = 2
    login_initiation(lms_client)
    login_initiation(lms_client)

    answer = login_initiation(lms_client)

    assert answer.response.status_code == 429
    assert int(answer.response["Retry-After"]) > 0


# --- accepted ---------------------------------------------------------------------------


def test_a_valid_learner_launch_maps_the_user_and_opens_the_lesson(
    test_platform, published, school, lms_client
):
    # Given a link placed by deep linking on a published lesson of the school
    custom = {CUSTOM: {"exocortex_lesson": str(published.lesson.id)}}

    # When a learner launches it
    response, _token, _state = launch(lms_client, test_platform, **custom)

    # Then a student of the school exists, is logged in and is sent to the lesson
    assert response.status_code == 302
    assert response["Location"] == f"/learn/lessons/{published.lesson.id}/"
    user = LtiIdentity.objects.get(issuer=test_platform.platform.issuer, sub="lms-user-1").user
    assert (user.school, user.role) == (school, Role.STUDENT)
    assert (user.email, user.display_name) == ("ada@school.example", "Ada Lovelace")
    assert not user.has_usable_password()
    assert logged_in_user(lms_client) == user
    # in a class made for the LMS course (held by the school admin until an instructor
    # comes), which the course is assigned to
    context = LtiContext.objects.get(context_id="course-7")
    classroom = context.classroom
    assert (classroom.name, classroom.school, classroom.teacher.role) == (
        "Maths 7",
        school,
        Role.SCHOOL_ADMIN,
    )
    assert not context.has_instructor
    assert list(classroom.students.all()) == [user]
    assert CourseAssignment.objects.filter(classroom=classroom, course=published.course).exists()
    link = LtiResourceLink.objects.get(resource_link_id="link-1")
    assert (link.course, link.lesson) == (published.course, published.lesson)
    event = AuditEvent.objects.get(action=AuditAction.LOGIN, actor=user)
    assert event.metadata == {"method": "lti"}
    assert event.school_id == school.id
    # and the lesson opens
    assert lms_client.get(response["Location"]).status_code == 200


def test_an_instructor_launch_makes_a_teacher_who_then_holds_the_class(
    test_platform, published, school, lms_client
):
    # Given a learner launched first
    custom = {CUSTOM: {"exocortex_course": str(published.course.id)}}
    launch(Client(), test_platform, **custom)

    # When the instructor launches the same link
    response, _token, _state = launch(
        lms_client,
        test_platform,
        sub="lms-teacher-1",
        name="Grace Hopper",
        email="grace@school.example",
        **{CLAIM + "roles": [INSTRUCTOR]},
        **custom,
    )

    # Then the instructor is a teacher of the school, and the class's teacher now
    assert response.status_code == 302
    assert response["Location"] == f"/learn/courses/{published.course.id}/"
    teacher = User.objects.get(email="grace@school.example")
    assert (teacher.role, teacher.school) == (Role.TEACHER, school)
    context = LtiContext.objects.get(context_id="course-7")
    assert context.has_instructor
    assert context.classroom.teacher == teacher
    assert context.classroom.students.count() == 1


def test_a_relaunch_finds_the_same_user(test_platform, published, lms_client):
    # Given a first launch
    custom = {CUSTOM: {"exocortex_course": str(published.course.id)}}
    launch(lms_client, test_platform, **custom)
    before = counts()

    # When the same LMS user launches again from another browser
    response, _token, _state = launch(Client(), test_platform, **custom)

    # Then nothing new is made but the login audit entry
    assert response.status_code == 302
    assert counts() == {**before, "audit": before["audit"] + 1}


def test_a_link_without_a_target_opens_the_class(test_platform, lms_client):
    response, _token, _state = launch(lms_client, test_platform)

    classroom = LtiContext.objects.get().classroom
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/classes/{classroom.id}/"


def test_an_email_of_another_schools_account_is_not_taken_over(
    test_platform, published, lms_client, other_school_course
):
    # Given an account of another school with the address the LMS sends
    other = UserFactory(
        email="ada@school.example", school=other_school_course.course.school, role=Role.TEACHER
    )

    # When the launch comes
    response, _token, _state = launch(lms_client, test_platform)

    # Then a new user of this school is made, with an address that is not the other's
    assert response.status_code == 302
    user = logged_in_user(lms_client)
    assert user != other
    assert user.school == test_platform.platform.school
    assert user.email.endswith("@lti.invalid")
    other.refresh_from_db()
    assert other.school == other_school_course.course.school
    assert not LtiIdentity.objects.filter(user=other).exists()


@pytest.mark.parametrize(
    ("roles", "role"),
    [
        ([services.ROLE_LEARNER], Role.STUDENT),
        ([services.ROLE_INSTRUCTOR], Role.TEACHER),
        ([services.ROLE_CONTENT_DEVELOPER], Role.TEACHER),
        ([services.ROLE_ADMINISTRATOR], Role.SCHOOL_ADMIN),
        ([services.ROLE_INSTITUTION_ADMINISTRATOR, services.ROLE_LEARNER], Role.SCHOOL_ADMIN),
        (["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"], Role.STUDENT),
        (["http://example.org/not-an-lti-role#Instructor"], Role.STUDENT),
        ([], Role.STUDENT),
    ],
)
def test_lti_roles_map_to_exocortex_roles(roles, role):
    assert services.role_from_lti(roles) == role


# --- refused ----------------------------------------------------------------------------


def test_a_bad_signature_is_refused_and_changes_nothing(test_platform, published, lms_client):
    # Given a token signed by some other key under the platform's key id
    before = counts()

    # When it is posted
    response, _token, _state = launch(lms_client, test_platform, key=rsa_key())

    # Then it is refused, nothing is made and nobody is logged in
    assert_refused(response)
    assert counts() == before
    assert logged_in_user(lms_client) is None


def test_an_unknown_key_id_is_refused(test_platform, lms_client):
    before = counts()

    response, _token, _state = launch(lms_client, test_platform, kid="not-published")

    assert_refused(response)
    assert counts() == before


def test_an_expired_token_is_refused(test_platform, lms_client):
    before = counts()
    long_ago = int(time.time()) - 3600

    response, _token, _state = launch(lms_client, test_platform, iat=long_ago, exp=long_ago + 60)

    assert_refused(response)
    assert counts() == before


def test_a_token_without_expiry_is_refused(test_platform, lms_client):
    before = counts()

    response, _token, _state = launch(lms_client, test_platform, exp=None)

    assert_refused(response)
    assert counts() == before


def test_a_replayed_nonce_is_refused(test_platform, lms_client):
    # Given a launch that was accepted
    response, token, state = launch(lms_client, test_platform)
    assert response.status_code == 302
    before = counts()

    # When the same id_token is posted again, state cookie and all
    replay = lms_client.post("/lti/launch/", {"id_token": token, "state": state})

    # Then it is refused and changes nothing
    assert_refused(replay)
    assert counts() == before


def test_a_nonce_the_tool_never_issued_is_refused(test_platform, lms_client):
    answer = login_initiation(lms_client)
    token = test_platform.id_token(nonce="made-up-by-the-attacker")
    before = counts()

    response = lms_client.post("/lti/launch/", {"id_token": token, "state": answer.state})

    assert_refused(response)
    assert counts() == before


def test_a_launch_without_the_state_cookie_is_refused(test_platform, lms_client):
    # Given a login in one browser
    answer = login_initiation(lms_client)
    token = test_platform.id_token(nonce=answer.nonce)

    # When the token is posted from another (no state cookie)
    response = Client().post("/lti/launch/", {"id_token": token, "state": answer.state})

    assert_refused(response)
    assert User.objects.filter(lti_identities__isnull=False).count() == 0


@pytest.mark.parametrize(
    "aud",
    [
        "another-tool",
        ["another-tool"],
        ["another-tool", CLIENT_ID],  # several audiences and no azp naming us
        [CLIENT_ID, "another-tool"],  # the same, with us first
    ],
)
def test_a_wrong_audience_is_refused(test_platform, lms_client, aud):
    before = counts()

    response, _token, _state = launch(lms_client, test_platform, aud=aud)

    assert_refused(response)
    assert counts() == before


def test_an_unknown_deployment_is_refused_and_not_recorded(test_platform, lms_client):
    before = counts()

    response, _token, _state = launch(
        lms_client, test_platform, **{CLAIM + "deployment_id": "deployment-of-someone-else"}
    )

    assert_refused(response)
    assert counts() == before


def test_an_inactive_platform_is_refused(test_platform, lms_client):
    test_platform.platform.is_active = False
    test_platform.platform.save()

    answer = login_initiation(lms_client)

    assert_refused(answer.response, 400)


@pytest.mark.parametrize("key", ["exocortex_course", "exocortex_lesson"])
def test_a_target_of_another_school_is_refused(test_platform, other_school_course, lms_client, key):
    # Given a link whose custom parameters name another school's course or lesson
    target = other_school_course.course if key == "exocortex_course" else other_school_course.lesson
    before = counts()

    # When it is launched
    response, _token, _state = launch(lms_client, test_platform, **{CUSTOM: {key: str(target.id)}})

    # Then it is refused, and nothing is made
    assert_refused(response)
    assert counts() == before
    assert logged_in_user(lms_client) is None


def test_a_malformed_target_is_refused(test_platform, lms_client):
    before = counts()

    response, _token, _state = launch(
        lms_client, test_platform, **{CUSTOM: {"exocortex_course": "12; drop table"}}
    )

    assert_refused(response, 400)
    assert counts() == before


def test_a_launch_without_id_token_is_a_bad_request(test_platform, lms_client):
    response = lms_client.post("/lti/launch/", {"state": "state-x"})

    assert_refused(response, 400)


def test_a_launch_is_post_only(test_platform, lms_client):
    assert lms_client.get("/lti/launch/").status_code == 405


def test_over_https_state_and_nonce_are_bound_to_cross_site_cookies(
    test_platform, published, lms_client
):
    # Given the login initiation over HTTPS
    answer = login_initiation(lms_client, secure=True)

    # Then the state cookie, and the cookie naming this browser's nonce store, are
    # SameSite=None; Secure: the LMS's cross-site POST brings them back
    assert answer.params["redirect_uri"] == "https://testserver/lti/launch/"
    for name in (f"lti1p3-{answer.state}", "lti1p3-session-id"):
        cookie = answer.response.cookies[name]
        assert (cookie["samesite"], cookie["secure"], cookie["httponly"]) == ("None", True, True)

    # When the platform posts the id_token
    token = test_platform.id_token(nonce=answer.nonce)
    response = lms_client.post(
        "/lti/launch/", {"id_token": token, "state": answer.state}, secure=True
    )

    # Then the launch is accepted, and the same token from another browser is not
    assert response.status_code == 302
    other = Client().post("/lti/launch/", {"id_token": token, "state": answer.state}, secure=True)
    assert_refused(other)


# --- inside the LMS's frame -------------------------------------------------------------


def test_a_framed_launch_continues_in_a_new_window(test_platform, published, lms_client):
    # Given a launch the browser shows inside the LMS's frame
    # from a course page on another host than the issuer (as on Canvas cloud)
    claims = {
        CUSTOM: {"exocortex_lesson": str(published.lesson.id)},
        CLAIM + "launch_presentation": {"return_url": "https://school.lms.example/courses/7"},
    }
    response, _token, _state = launch(
        lms_client, test_platform, headers={"Sec-Fetch-Dest": "iframe"}, **claims
    )

    # Then the frame (which the platform may frame) offers a one-time button
    assert response.status_code == 200
    assert b'data-testid="lti-handover"' in response.content
    assert (
        "frame-ancestors 'self' https://lms.example.edu https://school.lms.example"
        in response["Content-Security-Policy"]
    )
    assert "X-Frame-Options" not in response
    assert logged_in_user(lms_client) is None
    token = response.context["token"]

    # When the button opens a new window
    window = Client(enforce_csrf_checks=True)
    opened = window.post("/lti/continue/", {"token": token})

    # Then that window is logged in and on the lesson, once only
    assert opened.status_code == 302
    assert opened["Location"] == f"/learn/lessons/{published.lesson.id}/"
    assert logged_in_user(window).email == "ada@school.example"
    assert_refused(Client().post("/lti/continue/", {"token": token}))
