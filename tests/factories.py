from datetime import timedelta

import factory
from django.utils import timezone

from accounts.models import Classroom, Membership, Role, School, User

PASSWORD = "correct-horse-battery-staple"


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = School

    name = factory.Sequence(lambda n: f"School {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    username = factory.LazyAttribute(lambda o: o.email.lower())
    display_name = factory.Sequence(lambda n: f"User {n}")
    role = Role.STUDENT
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeacherFactory(UserFactory):
    role = Role.TEACHER
    school = factory.SubFactory(SchoolFactory)


class StudentFactory(UserFactory):
    role = Role.STUDENT


class ClassroomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Classroom

    teacher = factory.SubFactory(TeacherFactory)
    school = factory.LazyAttribute(lambda o: o.teacher.school)
    name = factory.Sequence(lambda n: f"Class {n}")
    capacity = 30
    join_code_expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=14))


def enroll(classroom: Classroom, student: User) -> None:
    if student.school_id is None:
        student.school = classroom.school
        student.save(update_fields=["school"])
    Membership.objects.create(classroom=classroom, student=student)
