from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import Classroom, Membership, Role, School, User
from common.errors import ApplicationError
from tests.factories import ClassroomFactory, StudentFactory, TeacherFactory, enroll

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "a-long-and-unusual-passphrase"


def signup(**overrides):
    data = {
        "email": "ada@example.org",
        "password": GOOD_PASSWORD,
        "display_name": "Ada",
        "role": Role.STUDENT,
    }
    data.update(overrides)
    return services.user_signup(**data)


def test_student_signup_creates_schoolless_student():
    user = signup(preferred_language="es")

    assert user.role == Role.STUDENT
    assert user.school is None
    assert user.preferred_language == "es"
    assert user.username == "ada@example.org"
    assert user.check_password(GOOD_PASSWORD)


def test_teacher_signup_founds_school_and_becomes_its_admin():
    user = signup(role=Role.TEACHER, school_name="  Lycée   Voltaire ")

    assert user.role == Role.SCHOOL_ADMIN
    assert user.school.name == "Lycée Voltaire"


def test_teacher_signup_with_staff_code_joins_existing_school():
    school = School.objects.create(name="North High")

    user = signup(role=Role.TEACHER, staff_code=school.staff_code.lower())

    assert user.role == Role.TEACHER
    assert user.school == school
    assert School.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "ADA@example.org"}, "email"),  # duplicate, other case
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 140 + "@example.org"}, "email"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"display_name": "   "}, "display_name"),
        ({"password": "123"}, "password"),
        ({"role": "superuser"}, "role"),
        ({"preferred_language": "xx"}, "preferred_language"),
        ({"role": Role.TEACHER, "school_name": "s" * 101}, "school_name"),
        ({"role": Role.TEACHER, "staff_code": "NOPE1234"}, "staff_code"),
    ],
)
def test_bad_signup_is_refused_and_changes_nothing(overrides, field):
    signup()  # the existing "ada@example.org"
    users_before, schools_before = User.objects.count(), School.objects.count()

    with pytest.raises(ApplicationError) as excinfo:
        signup(**{"email": "new@example.org", **overrides})

    assert excinfo.value.field == field
    assert excinfo.value.message
    assert User.objects.count() == users_before
    assert School.objects.count() == schools_before


def test_classroom_create_sets_school_code_and_expiry():
    teacher = TeacherFactory()

    classroom = services.classroom_create(teacher=teacher, name="Algebra 1", capacity=25)

    assert classroom.school == teacher.school
    assert len(classroom.join_code) == 8
    assert classroom.join_code_expires_at > timezone.now() + timedelta(days=13)
    assert classroom.capacity == 25


@pytest.mark.parametrize(
    ("name", "capacity", "field"),
    [("", 10, "name"), ("n" * 101, 10, "name"), ("Ok", 0, "capacity"), ("Ok", 501, "capacity")],
)
def test_classroom_create_bad_input_changes_nothing(name, capacity, field):
    teacher = TeacherFactory()

    with pytest.raises(ApplicationError) as excinfo:
        services.classroom_create(teacher=teacher, name=name, capacity=capacity)

    assert excinfo.value.field == field
    assert Classroom.objects.count() == 0


def test_student_cannot_create_classroom():
    student = StudentFactory()

    with pytest.raises(ApplicationError):
        services.classroom_create(teacher=student, name="Mine")

    assert Classroom.objects.count() == 0


def test_join_binds_student_to_school_and_class():
    classroom = ClassroomFactory()
    student = StudentFactory()

    joined = services.classroom_join(student=student, code=f" {classroom.join_code.lower()} ")

    student.refresh_from_db()
    assert joined == classroom
    assert student.school == classroom.school
    assert list(classroom.students.all()) == [student]


def _assert_join_refused(student, code, message_part):
    school_before = student.school_id
    memberships_before = Membership.objects.count()
    with pytest.raises(ApplicationError) as excinfo:
        services.classroom_join(student=student, code=code)
    student.refresh_from_db()
    assert message_part in excinfo.value.message
    assert excinfo.value.field == "code"
    assert student.school_id == school_before
    assert Membership.objects.count() == memberships_before


def test_join_with_wrong_code_is_refused():
    ClassroomFactory()
    _assert_join_refused(StudentFactory(), "WRONG123", "No class has this code")


def test_join_with_expired_code_is_refused():
    classroom = ClassroomFactory(join_code_expires_at=timezone.now() - timedelta(minutes=1))
    _assert_join_refused(StudentFactory(), classroom.join_code, "expired")


def test_join_full_class_is_refused():
    classroom = ClassroomFactory(capacity=1)
    enroll(classroom, StudentFactory())
    _assert_join_refused(StudentFactory(), classroom.join_code, "full")


NO_SUCH_CLASS = "No class has this code. Check it and try again."


@pytest.mark.parametrize("expired", [False, True])
def test_class_of_another_school_answers_like_a_code_nobody_has(expired):
    # given: a student of one school, and another school's class (its code still valid,
    # or expired)
    home = ClassroomFactory()
    student = StudentFactory()
    enroll(home, student)
    expires = timezone.now() + (timedelta(days=-1) if expired else timedelta(days=1))
    foreign = ClassroomFactory(join_code_expires_at=expires)
    # when / then: the same message as for a code no class has
    with pytest.raises(ApplicationError) as unknown:
        services.classroom_join(student=student, code="WRONG123")
    _assert_join_refused(student, foreign.join_code, NO_SUCH_CLASS)
    assert unknown.value.message == NO_SUCH_CLASS


def test_join_twice_is_refused():
    classroom = ClassroomFactory()
    student = StudentFactory()
    services.classroom_join(student=student, code=classroom.join_code)
    _assert_join_refused(student, classroom.join_code, "already")


def test_regenerated_code_replaces_old_one():
    classroom = ClassroomFactory(join_code_expires_at=timezone.now() - timedelta(days=1))
    old_code = classroom.join_code

    services.classroom_code_regenerate(classroom=classroom)

    assert classroom.join_code != old_code
    assert classroom.join_code_expires_at > timezone.now()
    _assert_join_refused(StudentFactory(), old_code, "No class has this code")
