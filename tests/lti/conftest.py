"""A test LMS: an RSA key made here, its JWKS pasted into the registration, and the real
OIDC flow (login initiation -> auth redirect -> id_token POST) run through the test
client against the real cache."""

import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from jwt.algorithms import RSAAlgorithm

from accounts.models import Role
from courses import services as course_services
from lti.models import LtiDeployment, LtiPlatform
from lti.services import ROLE_LEARNER
from tests.courses.factories import CourseFactory, ExerciseFactory, LessonFactory, UnitFactory
from tests.factories import SchoolFactory, TeacherFactory, UserFactory

ISSUER = "https://lms.example.edu"
CLIENT_ID = "exocortex-client"
DEPLOYMENT_ID = "deployment-1"
AUTH_LOGIN_URL = "https://lms.example.edu/mod/lti/auth.php"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
RETURN_URL = "https://lms.example.edu/mod/lti/contentitem_return.php?course=7"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key, kid: str) -> dict[str, Any]:
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class TestPlatform:
    platform: LtiPlatform
    key: Any
    kid: str = "platform-key-1"
    sent: list[str] = field(default_factory=list)

    def id_token(self, *, nonce: str, key=None, kid: str | None = None, **overrides: Any) -> str:
        """A resource link launch for a learner, signed by the platform's key; claims
        given as keyword arguments replace (None: remove) the defaults."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": "lms-user-1",
            "exp": now + 300,
            "iat": now,
            "nonce": nonce,
            "name": "Ada Lovelace",
            "email": "ada@school.example",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": DEPLOYMENT_ID,
            CLAIM + "target_link_uri": "http://testserver/lti/launch/",
            CLAIM + "resource_link": {"id": "link-1", "title": "Fractions"},
            CLAIM + "roles": [ROLE_LEARNER],
            CLAIM + "context": {"id": "course-7", "label": "MATH7", "title": "Maths 7"},
        }
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )


@pytest.fixture
def school(db):
    """A school with its admin (who holds an LMS course's class until an instructor
    launches)."""
    school = SchoolFactory(name="Northside")
    UserFactory(school=school, role=Role.SCHOOL_ADMIN, email="admin@northside.example")
    return school


@pytest.fixture
def test_platform(school) -> TestPlatform:
    key = rsa_key()
    platform = LtiPlatform.objects.create(
        school=school,
        name="Northside Moodle",
        issuer=ISSUER,
        client_id=CLIENT_ID,
        auth_login_url=AUTH_LOGIN_URL,
        auth_token_url="https://lms.example.edu/mod/lti/token.php",
        key_set={"keys": [public_jwk(key, "platform-key-1")]},
    )
    LtiDeployment.objects.create(platform=platform, deployment_id=DEPLOYMENT_ID)
    return TestPlatform(platform=platform, key=key)


@dataclass
class Published:
    course: Any
    lesson: Any


def published_course(school) -> Published:
    course = CourseFactory(school=school, is_published=True, title_en="Fractions")
    lesson = LessonFactory(unit=UnitFactory(course=course), title_en="Adding fractions")
    ExerciseFactory(lesson=lesson)
    course_services.lesson_publish(lesson=lesson)
    return Published(course=course, lesson=lesson)


@pytest.fixture
def published(school) -> Published:
    return published_course(school)


@pytest.fixture
def other_school_course(db) -> Published:
    other = SchoolFactory(name="Southside")
    TeacherFactory(school=other)
    return published_course(other)


@dataclass
class LoginAnswer:
    response: Any
    params: dict[str, str]

    @property
    def state(self) -> str:
        return self.params["state"]

    @property
    def nonce(self) -> str:
        return self.params["nonce"]


def login_initiation(client: Client, *, secure: bool = False, **extra: str) -> LoginAnswer:
    """Step 1, as the LMS starts it: a POST naming the issuer, client and user."""
    data = {
        "iss": ISSUER,
        "login_hint": "opaque-login-hint",
        "target_link_uri": "http://testserver/lti/launch/",
        "lti_message_hint": "opaque-message-hint",
        "client_id": CLIENT_ID,
        "lti_deployment_id": DEPLOYMENT_ID,
        **extra,
    }
    response = client.post("/lti/login/", data, secure=secure)
    params = {}
    if response.status_code == 302:
        location = urlsplit(response["Location"])
        params = {k: v[0] for k, v in parse_qs(location.query).items()}
        params["_endpoint"] = f"{location.scheme}://{location.netloc}{location.path}"
    return LoginAnswer(response=response, params=params)


def launch(
    client: Client,
    test_platform: TestPlatform,
    *,
    headers: dict | None = None,
    secure: bool = False,
    **claims: Any,
):
    """Steps 1-3: login initiation, the platform's answer (an id_token carrying the nonce
    we were sent), and its POST to the launch URL. Returns (response, id_token, state)."""
    answer = login_initiation(client, secure=secure)
    assert answer.response.status_code == 302, answer.response.content
    token = test_platform.id_token(nonce=answer.nonce, **claims)
    response = client.post(
        "/lti/launch/",
        {"id_token": token, "state": answer.state},
        headers=headers or {},
        secure=secure,
    )
    return response, token, answer.state


@pytest.fixture
def lms_client() -> Client:
    """The browser, arriving from the LMS: no CSRF token, so CSRF is enforced."""
    return Client(enforce_csrf_checks=True)


def new_nonce() -> str:
    return uuid.uuid4().hex
