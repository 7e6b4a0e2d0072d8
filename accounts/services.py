"""Writes for accounts. Callers (views, consumers, tasks) parse input and call one of these.

Every function raises common.errors.ApplicationError with a user-facing message on bad
input and then changes nothing.
"""

from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import (
    NAME_MAX_LENGTH,
    Classroom,
    Membership,
    Role,
    School,
    User,
    new_code,
)
from common.errors import ApplicationError


def _clean_name(value: str, *, field: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise ApplicationError(_("This field is required."), field=field)
    if len(value) > NAME_MAX_LENGTH:
        raise ApplicationError(
            _("Please use at most %(max)d characters.") % {"max": NAME_MAX_LENGTH}, field=field
        )
    return value


def _clean_language(language: str) -> str:
    if language not in dict(settings.LANGUAGES):
        raise ApplicationError(_("Unknown language."), field="preferred_language")
    return language


def classroom_group_name(classroom_id: int) -> str:
    """Channel-layer group that receives a classroom's fan-out events."""
    return f"classroom.{classroom_id}"


@transaction.atomic
def user_signup(
    *,
    email: str,
    password: str,
    display_name: str,
    role: str,
    preferred_language: str = settings.LANGUAGE_CODE,
    school_name: str = "",
    staff_code: str = "",
) -> User:
    """Create an account.

    A student starts without a school and gets one by joining a class. A teacher either
    founds a school (`school_name`: becomes its school admin) or joins one with the
    school's `staff_code`. A welcome e-mail is queued once the account is committed.
    """
    from accounts.tasks import send_welcome_email

    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ApplicationError(_("Enter a valid e-mail address."), field="email") from exc
    if len(email) > 150:
        raise ApplicationError(_("This e-mail address is too long."), field="email")
    display_name = _clean_name(display_name, field="display_name")
    preferred_language = _clean_language(preferred_language)
    if role not in (Role.STUDENT, Role.TEACHER):
        raise ApplicationError(_("Choose student or teacher."), field="role")
    if User.objects.filter(email__iexact=email).exists():
        raise ApplicationError(
            _("An account with this e-mail address already exists."), field="email"
        )

    school = None
    if role == Role.TEACHER:
        staff_code = (staff_code or "").strip().upper()
        if staff_code:
            school = School.objects.filter(staff_code=staff_code).first()
            if school is None:
                raise ApplicationError(_("No school has this staff code."), field="staff_code")
        else:
            school_name = _clean_name(school_name, field="school_name")
            school = School.objects.create(name=school_name)
            role = Role.SCHOOL_ADMIN

    user = User(
        username=email.lower(),
        email=email,
        display_name=display_name,
        role=role,
        school=school,
        preferred_language=preferred_language,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), field="password") from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent sign-up with the same e-mail won
        raise ApplicationError(
            _("An account with this e-mail address already exists."), field="email"
        ) from exc
    send_welcome_email.delay_on_commit(user.id)
    return user


def user_authenticate(*, request, email: str, password: str) -> User:
    """The active user with these credentials; ApplicationError (no field) otherwise."""
    user = authenticate(request, email=email, password=password)
    if user is None:
        raise ApplicationError(_("E-mail or password is not right."))
    return user


def user_set_language(*, user: User, language: str) -> None:
    user.preferred_language = _clean_language(language)
    user.save(update_fields=["preferred_language"])


def classroom_create(*, teacher: User, name: str, capacity: int | None = None) -> Classroom:
    """Create a class in the teacher's school. The caller checked nothing more than login."""
    if not teacher.is_staff_member or teacher.school_id is None:
        raise ApplicationError(_("Only teachers can create classes."))
    name = _clean_name(name, field="name")
    if capacity is None:
        capacity = settings.CLASSROOM_DEFAULT_CAPACITY
    if not 1 <= capacity <= 500:
        raise ApplicationError(_("Capacity must be between 1 and 500."), field="capacity")
    return Classroom.objects.create(
        school_id=teacher.school_id,
        teacher=teacher,
        name=name,
        capacity=capacity,
        join_code_expires_at=timezone.now() + timedelta(days=settings.CLASSROOM_CODE_TTL_DAYS),
    )


def classroom_code_regenerate(*, classroom: Classroom) -> Classroom:
    """New join code with a fresh expiry. Caller checked the user may manage `classroom`."""
    classroom.join_code = new_code()
    classroom.join_code_expires_at = timezone.now() + timedelta(
        days=settings.CLASSROOM_CODE_TTL_DAYS
    )
    classroom.save(update_fields=["join_code", "join_code_expires_at"])
    return classroom


@transaction.atomic
def classroom_join(*, student: User, code: str) -> Classroom:
    """Add `student` to the class with join code `code`.

    Locks the classroom row so two students cannot both take the last seat. A student
    belongs to one school: joining binds a new student to the class's school.
    """
    if student.role != Role.STUDENT:
        raise ApplicationError(_("Only students can join a class with a code."))
    code = "".join((code or "").split()).upper()
    if not code or len(code) > 16:
        raise ApplicationError(_("Enter the class code your teacher gave you."), field="code")
    classroom = Classroom.objects.select_for_update().filter(join_code=code).first()
    # Another school's class answers as if there were none: whether a code is in use
    # elsewhere is not this student's to learn.
    if classroom is None or student.school_id not in (None, classroom.school_id):
        raise ApplicationError(_("No class has this code. Check it and try again."), field="code")
    if classroom.join_code_expires_at <= timezone.now():
        raise ApplicationError(
            _("This class code has expired. Ask your teacher for a new one."), field="code"
        )
    if Membership.objects.filter(classroom=classroom, student=student).exists():
        raise ApplicationError(_("You are already in this class."), field="code")
    if Membership.objects.filter(classroom=classroom).count() >= classroom.capacity:
        raise ApplicationError(_("This class is full. Ask your teacher."), field="code")
    if student.school_id is None:
        student.school_id = classroom.school_id
        student.save(update_fields=["school"])
    Membership.objects.create(classroom=classroom, student=student)

    event = {
        "type": "member.joined",
        "student": {"id": student.id, "name": student.display_name},
    }
    transaction.on_commit(lambda: _group_send(classroom_group_name(classroom.id), event))
    return classroom


def _group_send(group: str, event: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)
