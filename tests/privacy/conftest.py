"""Two students of one class with a full history each (answers, mastery, a review card,
tutor conversations with a teacher's note and a photo, the tutor's memory, a log-in
session, a single sign-on identity, an LMS identity), and a school admin."""

import io
from dataclasses import dataclass
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from accounts.models import Role
from learning import selectors as learning_selectors
from learning import services as learning_services
from learning.models import ReviewCard
from lti.models import LtiIdentity
from tests.factories import StudentFactory, UserFactory, enroll
from tests.learning.conftest import World, build_world
from tutor import services as tutor_services
from tutor.models import LearnerMemory, TutorPhoto


def jpeg_bytes(color=(10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, "JPEG")
    return buffer.getvalue()


def give_history(world: World, student) -> None:
    """Everything a student leaves behind, each piece saying who they are."""
    cmap = learning_selectors.course_map(course=world.course)
    presentation = learning_services.presentation_for_lesson(
        learner=student, lesson=world.lesson, cmap=cmap
    )
    learning_services.attempt_submit(presentation=presentation, response="0.5")
    learning_services.attempt_submit(presentation=presentation, response="0.75")
    ReviewCard.objects.create(
        learner=student,
        skill=world.skill_a,
        card={"card_id": student.id, "state": 2},
        due=timezone.now() + timedelta(days=3),
    )
    session = tutor_services.session_for_lesson(learner=student, lesson=world.lesson)
    turn = tutor_services.turn_student_add(
        session=session,
        text=f"Hi, I am {student.display_name}, write to {student.email}",
        presentation=presentation,
    )
    reply = tutor_services.turn_tutor_start(session=session, presentation=presentation, notes={})
    tutor_services.turn_tutor_finish(
        turn=reply, text=f"Hello {student.display_name}! Try again.", status="complete"
    )
    tutor_services.note_add(
        session=session, author=world.teacher, text=f"{student.display_name} is doing well"
    )
    photo = TutorPhoto(
        session=session, turn=turn, content_type="image/jpeg", width=8, height=8, size=1
    )
    photo.file.save("photo", ContentFile(jpeg_bytes()), save=False)
    photo.save()
    LearnerMemory.objects.create(
        learner=student,
        course=world.course,
        misconceptions=[f"{student.display_name} adds denominators"],
        helped=["pictures"],
        interests=["football"],
    )
    store = SessionStore()
    store["_auth_user_id"] = str(student.pk)
    store["_auth_user_backend"] = "accounts.backends.EmailBackend"
    store.create()
    # Signed in through the school's identity provider (sso/): its claims and a token.
    account = SocialAccount.objects.create(
        user=student,
        provider="school-oidc",
        uid=f"sub-{student.pk}",
        extra_data={"userinfo": {"email": student.email, "name": student.display_name}},
    )
    SocialToken.objects.create(account=account, token=f"token-of-{student.email}")
    EmailAddress.objects.create(user=student, email=student.email, verified=True, primary=True)
    # Launched from the school's LMS (lti/).
    LtiIdentity.objects.create(
        school=world.school, issuer="https://lms.example.org", sub=f"lms-{student.pk}", user=student
    )


@dataclass
class Class2(World):
    other: object = None
    admin: object = None


def build_class(**names) -> Class2:
    world = build_world()
    world.student.email = names.get("email", "zelda.quintessa@example.org")
    world.student.username = world.student.email
    world.student.display_name = names.get("name", "Zelda Quintessa")
    world.student.save()
    other = StudentFactory(
        email=names.get("other_email", "otto.brightwater@example.org"),
        display_name=names.get("other_name", "Otto Brightwater"),
    )
    enroll(world.classroom, other)
    admin = UserFactory(role=Role.SCHOOL_ADMIN, school=world.school)
    give_history(world, world.student)
    give_history(world, other)
    return Class2(**vars(world), other=other, admin=admin)


@pytest.fixture
def klass(db) -> Class2:
    return build_class()
