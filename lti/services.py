"""Writes for LTI: accepting a verified launch (user, class, link), deep linking's
answer, the one-time hand-over into a new window, and the tool's key rotation.

Every function raises common.errors.ApplicationError with a user-facing message (and
`extra["status"]`, 400 or 403) on a launch it refuses, and then changes nothing.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import NAME_MAX_LENGTH, Classroom, Membership, Role, School, User
from common.errors import ApplicationError
from courses import selectors as course_selectors
from courses.models import Course, Lesson
from learning import services as learning_services
from lti import selectors, tool
from lti.models import LtiContext, LtiIdentity, LtiPlatform, LtiResourceLink, LtiToolKey

# LTI 1.3 role URIs (LTI core spec, appendix A.2). Context roles may also come as their
# simple names ("Instructor"), which the spec allows platforms to send.
_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
ROLE_INSTRUCTOR = _MEMBERSHIP + "Instructor"
ROLE_CONTENT_DEVELOPER = _MEMBERSHIP + "ContentDeveloper"
ROLE_LEARNER = _MEMBERSHIP + "Learner"
ROLE_ADMINISTRATOR = _MEMBERSHIP + "Administrator"
ROLE_INSTITUTION_ADMINISTRATOR = (
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
)
ROLE_SYSTEM_ADMINISTRATOR = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"

INSTRUCTOR_ROLES = frozenset(
    {ROLE_INSTRUCTOR, ROLE_CONTENT_DEVELOPER, "Instructor", "ContentDeveloper"}
)
LEARNER_ROLES = frozenset({ROLE_LEARNER, "Learner"})
ADMINISTRATOR_ROLES = frozenset(
    {
        ROLE_ADMINISTRATOR,
        ROLE_INSTITUTION_ADMINISTRATOR,
        ROLE_SYSTEM_ADMINISTRATOR,
        "Administrator",
    }
)
_RANK = {Role.STUDENT: 0, Role.TEACHER: 1, Role.SCHOOL_ADMIN: 2}

# Custom parameters a deep-linked resource link carries (and the LMS sends back).
CUSTOM_COURSE = "exocortex_course"
CUSTOM_LESSON = "exocortex_lesson"

# A class made for an LMS course: its members come from the LMS, so no seat limit bites
# (the largest the class form allows) and its join code is expired from the start.
LTI_CLASSROOM_CAPACITY = 500
DEEP_LINK_SECONDS = 30 * 60
HANDOVER_SECONDS = 120
_HANDOVER_PREFIX = "lti:handover:"
_DEEP_LINK_SALT = "lti.deep_link"


def _refuse(message: str, *, status: int = 403) -> ApplicationError:
    return ApplicationError(message, extra={"status": status})


def role_from_lti(roles: list[str]) -> str:
    """Administrator > Instructor/ContentDeveloper > anything else (Learner included)."""
    given = set(roles)
    if given & ADMINISTRATOR_ROLES:
        return Role.SCHOOL_ADMIN
    if given & INSTRUCTOR_ROLES:
        return Role.TEACHER
    return Role.STUDENT


@dataclass(frozen=True)
class LaunchOutcome:
    user: User
    # Where the user goes next; for a deep linking request, None (the picker is shown).
    url: str | None
    classroom: Classroom | None


@dataclass(frozen=True)
class _Target:
    course: Course
    lesson: Lesson | None


# --- launch -----------------------------------------------------------------------------


def _parse_id(value: Any) -> int:
    try:
        parsed = int(str(value).strip())
    except (TypeError, ValueError):
        parsed = 0
    if parsed <= 0:
        raise _refuse(
            _("This link's settings are not valid. Ask your teacher to pick it again."), status=400
        )
    return parsed


def _target_from_launch(launch: tool.VerifiedLaunch) -> _Target | None:
    """The course or lesson the link opens: named in its custom parameters (set by deep
    linking), else the one recorded for this link. Refused when it is not a published
    course of the platform's school."""
    custom = launch.claim("custom") or {}
    if not isinstance(custom, dict):
        custom = {}
    school_id = launch.platform.school_id
    if custom.get(CUSTOM_LESSON):
        lesson = (
            Lesson.objects.select_related("unit__course")
            .filter(pk=_parse_id(custom[CUSTOM_LESSON]))
            .first()
        )
        target = _Target(course=lesson.unit.course, lesson=lesson) if lesson else None
    elif custom.get(CUSTOM_COURSE):
        course = Course.objects.filter(pk=_parse_id(custom[CUSTOM_COURSE])).first()
        target = _Target(course=course, lesson=None) if course else None
    else:
        link_id = (launch.claim("resource_link") or {}).get("id", "")
        link = (
            LtiResourceLink.objects.select_related("course", "lesson")
            .filter(deployment=launch.deployment, resource_link_id=link_id)
            .first()
        )
        return _Target(course=link.course, lesson=link.lesson) if link else None
    if target is None or target.course.school_id != school_id:
        # Another school's course answers like a missing one.
        raise _refuse(_("This link points at a course that is not available to your school."))
    published = target.course.is_published and (
        target.lesson is None
        or (target.lesson.is_published and target.lesson.published_version_id is not None)
    )
    if not published:
        raise _refuse(_("This course or lesson is not published yet. Ask your teacher."))
    return target


def _display_name(claims: dict[str, Any]) -> str:
    name = claims.get("name") or " ".join(
        part for part in (claims.get("given_name"), claims.get("family_name")) if part
    )
    name = " ".join(str(name or "").split())[:NAME_MAX_LENGTH]
    return name or _("LMS user")


def _free_email(claims: dict[str, Any]) -> str:
    """The e-mail the LMS gave, when it is valid and nobody has it yet (an address that
    belongs to any existing account, in this school or another, is never taken over: LMSs
    often let users edit their address); else a placeholder that cannot receive mail."""
    email = str(claims.get("email") or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        email = ""
    if email and len(email) <= 150 and not User.objects.filter(email__iexact=email).exists():
        return email
    return f"lti-{uuid.uuid4().hex}@lti.invalid"


def _language(launch: tool.VerifiedLaunch) -> str:
    locale = str((launch.claim("launch_presentation") or {}).get("locale") or "")
    code = locale.replace("_", "-").split("-")[0].lower()
    return code if code in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def _user_for_launch(launch: tool.VerifiedLaunch, role: str) -> User:
    """The user this (issuer, sub) is in the platform's school, created on first launch.
    A later launch with a higher role promotes the user (never demotes: a teacher may be
    a learner in a colleague's course)."""
    school: School = launch.platform.school
    issuer, sub = launch.claims["iss"], launch.claims["sub"]
    identity = (
        LtiIdentity.objects.select_related("user")
        .filter(school=school, issuer=issuer, sub=sub)
        .first()
    )
    if identity is not None:
        user = identity.user
        if user.school_id != school.id or not user.is_active:
            raise _refuse(_("Your Exocortex account cannot be used from this platform."))
        changed = []
        if _RANK[Role(role)] > _RANK[Role(user.role)]:
            user.role = role
            changed.append("role")
        name = _display_name(launch.claims)
        if (
            launch.claims.get("name") or launch.claims.get("given_name")
        ) and name != user.display_name:
            user.display_name = name
            changed.append("display_name")
        if changed:
            user.save(update_fields=changed)
        return user

    email = _free_email(launch.claims)
    user = User(
        username=email.lower(),
        email=email,
        display_name=_display_name(launch.claims),
        role=role,
        school=school,
        preferred_language=_language(launch),
    )
    user.set_unusable_password()  # signs in through the LMS only
    try:
        with transaction.atomic():
            user.save()
            LtiIdentity.objects.create(school=school, issuer=issuer, sub=sub, user=user)
    except IntegrityError as exc:  # a concurrent first launch of the same user won
        raise _refuse(_("Please open the link again."), status=409) from exc
    return user


def _stand_in_teacher(school: School) -> User | None:
    """Who holds a class made by a learner's launch until an instructor launches."""
    staff = User.objects.filter(school=school, is_active=True)
    return (
        staff.filter(role=Role.SCHOOL_ADMIN).order_by("id").first()
        or staff.filter(role=Role.TEACHER).order_by("id").first()
    )


def _classroom_for_launch(
    launch: tool.VerifiedLaunch, user: User, *, instructor: bool, learner: bool
) -> Classroom | None:
    """The class of the launch's LMS course: made on the first instructor or learner
    launch (teacher: the first instructor); learners become its members."""
    context = launch.claim("context") or {}
    context_id = str(context.get("id") or "") if isinstance(context, dict) else ""
    if not context_id or not (instructor or learner):
        return None
    link = (
        LtiContext.objects.select_for_update()
        .select_related("classroom")
        .filter(deployment=launch.deployment, context_id=context_id)
        .first()
    )
    if link is None:
        teacher = user if instructor else _stand_in_teacher(launch.platform.school)
        if teacher is None:
            raise _refuse(
                _("Your teacher needs to open Exocortex from this course first."), status=409
            )
        name = " ".join(str(context.get("title") or context.get("label") or "").split())
        try:
            with transaction.atomic():
                classroom = Classroom.objects.create(
                    school=launch.platform.school,
                    teacher=teacher,
                    name=(name or _("LMS course"))[:NAME_MAX_LENGTH],
                    capacity=LTI_CLASSROOM_CAPACITY,
                    join_code_expires_at=timezone.now(),
                )
                link = LtiContext.objects.create(
                    deployment=launch.deployment,
                    context_id=context_id,
                    classroom=classroom,
                    has_instructor=instructor,
                )
        except IntegrityError as exc:  # a concurrent first launch in this course won
            raise _refuse(_("Please open the link again."), status=409) from exc
    elif instructor and not link.has_instructor:
        link.classroom.teacher = user
        link.classroom.save(update_fields=["teacher"])
        link.has_instructor = True
        link.save(update_fields=["has_instructor"])
    classroom = link.classroom
    if learner and user.role == Role.STUDENT:
        Membership.objects.get_or_create(classroom=classroom, student=user)
    return classroom


@transaction.atomic
def launch_accept(*, launch: tool.VerifiedLaunch) -> LaunchOutcome:
    """Map a verified resource link or deep linking launch onto Exocortex: the user (made
    on first launch), the class of the LMS course, the link's course or lesson (assigned
    to that class). The caller logs the user in and sends them to `url`.

    Checks first, then writes, all in one transaction: a refused launch leaves nothing.
    """
    if launch.message_type not in (tool.MESSAGE_RESOURCE_LINK, tool.MESSAGE_DEEP_LINKING):
        raise _refuse(_("Exocortex does not handle this kind of launch."), status=400)
    roles = launch.claim("roles") or []
    if not isinstance(roles, list):
        raise _refuse(_("The launch's roles are not valid."), status=400)
    role = role_from_lti(roles)
    deep_linking = launch.message_type == tool.MESSAGE_DEEP_LINKING
    if deep_linking and role == Role.STUDENT:
        raise _refuse(_("Only teachers can choose what this link opens."))
    target = None if deep_linking else _target_from_launch(launch)

    user = _user_for_launch(launch, role)
    given = set(roles)
    classroom = _classroom_for_launch(
        launch,
        user,
        instructor=bool(given & INSTRUCTOR_ROLES),
        learner=bool(given & LEARNER_ROLES),
    )
    if deep_linking:
        return LaunchOutcome(user=user, url=None, classroom=classroom)
    if target is None:
        url = (
            reverse("accounts:classroom_detail", kwargs={"classroom_id": classroom.id})
            if classroom is not None
            else reverse("accounts:dashboard")
        )
        return LaunchOutcome(user=user, url=url, classroom=classroom)

    LtiResourceLink.objects.update_or_create(
        deployment=launch.deployment,
        resource_link_id=launch.claim("resource_link")["id"],
        defaults={"course": target.course, "lesson": target.lesson},
    )
    if classroom is not None:
        learning_services.course_assign(
            classroom=classroom, course=target.course, assigned_by=classroom.teacher
        )
    if target.lesson is not None:
        url = reverse("learning:lesson", kwargs={"lesson_id": target.lesson.id})
    else:
        url = reverse("learning:course", kwargs={"course_id": target.course.id})
    return LaunchOutcome(user=user, url=url, classroom=classroom)


# --- hand-over into a new window ----------------------------------------------------------


def handover_issue(*, user: User, url: str) -> str:
    """A one-time token (HANDOVER_SECONDS) that signs `user` in and goes to `url`: how a
    launch shown inside the LMS's frame, where our session cookie is not kept, continues
    in a window of its own."""
    token = secrets.token_urlsafe(32)
    cache.set(_HANDOVER_PREFIX + token, {"user": user.pk, "url": url}, HANDOVER_SECONDS)
    return token


def handover_redeem(*, token: str) -> tuple[User, str]:
    """The user and URL of a hand-over token, which is used up; ApplicationError when it
    is unknown, expired or used."""
    key = _HANDOVER_PREFIX + (token or "")[:100]
    data = cache.get(key)
    # delete() is atomic: of two redemptions racing, one finds the key.
    if not data or not cache.delete(key):
        raise _refuse(_("This link has expired. Open Exocortex from your course again."))
    user = User.objects.filter(pk=data["user"], is_active=True).first()
    if user is None:
        raise _refuse(_("This link has expired. Open Exocortex from your course again."))
    return user, data["url"]


# --- deep linking -----------------------------------------------------------------------------


def deep_link_request_sign(*, launch: tool.VerifiedLaunch, user: User) -> str:
    """What answering this deep linking request needs, signed (DEEP_LINK_SECONDS): it
    travels in the picker's form, so picking works inside the LMS's frame, without
    cookies."""
    return signing.dumps(
        {
            "platform": launch.platform.pk,
            "deployment": launch.deployment.deployment_id,
            "settings": launch.claims[tool.CLAIM_DEEP_LINKING],
            "user": user.pk,
        },
        salt=_DEEP_LINK_SALT,
        compress=True,
    )


@dataclass(frozen=True)
class DeepLinkRequest:
    platform: LtiPlatform
    deployment_id: str
    settings: dict[str, Any]
    user: User

    @property
    def return_url(self) -> str:
        return self.settings["deep_link_return_url"]


def deep_link_request_read(*, token: str) -> DeepLinkRequest:
    try:
        data = signing.loads(token or "", salt=_DEEP_LINK_SALT, max_age=DEEP_LINK_SECONDS)
    except signing.BadSignature as exc:  # SignatureExpired included
        raise _refuse(
            _("This page has expired. Choose the content again from your course."), status=400
        ) from exc
    platform = LtiPlatform.objects.filter(pk=data["platform"], is_active=True).first()
    user = User.objects.filter(pk=data["user"], is_active=True).first()
    if platform is None or user is None or user.school_id != platform.school_id:
        raise _refuse(_("This page has expired. Choose the content again from your course."))
    return DeepLinkRequest(
        platform=platform, deployment_id=data["deployment"], settings=data["settings"], user=user
    )


def deep_link_respond(*, request: DeepLinkRequest, target: str, launch_url: str) -> str:
    """The signed LtiDeepLinkingResponse placing one link in the LMS: `target` is a
    course id, or "course id:lesson id". The course must be a published one of the
    user's school, the lesson a published one of the course."""
    course_part, _sep, lesson_part = (target or "").partition(":")
    course_id = _parse_id(course_part)
    lesson_id = _parse_id(lesson_part) if lesson_part else None
    user = request.user
    course = course_selectors.courses_for_learner(user=user).filter(pk=course_id).first()
    if course is None:
        raise _refuse(_("Choose one of your school's published courses."), status=400)
    custom = {CUSTOM_COURSE: str(course.id)}
    title = course.title
    if lesson_id is not None:
        lesson = (
            course_selectors.course_published_lessons(course=course).filter(pk=lesson_id).first()
        )
        if lesson is None:
            raise _refuse(_("Choose one of the course's published lessons."), status=400)
        custom[CUSTOM_LESSON] = str(lesson.id)
        title = lesson.title
    return tool.deep_linking_response_jwt(
        platform=request.platform,
        deployment_id=request.deployment_id,
        settings=request.settings,
        items=[{"title": title, "url": launch_url, "custom": custom}],
        key=tool_key_current(),
    )


# --- the tool's keys ----------------------------------------------------------------------


def _key_create(now) -> LtiToolKey:
    kid, private_pem, public_jwk = tool.key_pair_new()
    return LtiToolKey.objects.create(
        kid=kid, private_key_pem=private_pem, public_jwk=public_jwk, created_at=now
    )


def tool_key_current() -> LtiToolKey:
    """The signing key; the first one is made on first use."""
    key = selectors.tool_key_signing()
    return key if key is not None else _key_create(timezone.now())


@transaction.atomic
def tool_key_rotate(*, grace: timedelta) -> LtiToolKey:
    """Make a new signing key. The keys it replaces stay in the JWKS for `grace` (so
    platforms that cached the JWKS, and messages already signed, still verify); keys
    whose grace is over are deleted."""
    now = timezone.now()
    LtiToolKey.objects.filter(retires_at__lte=now).delete()
    LtiToolKey.objects.filter(retires_at__isnull=True).update(retires_at=now + grace)
    return _key_create(now)
