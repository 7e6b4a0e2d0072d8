"""Schools are the tenants: every classroom, course and learner record belongs to one."""

import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

# No 0/O or 1/I/L: codes are read aloud and copied from a board.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 8
NAME_MAX_LENGTH = 100


def new_code(length: int = JOIN_CODE_LENGTH) -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(length))


class School(models.Model):
    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH)
    # Teachers join a school with this code; only the school's staff can see it.
    staff_code = models.CharField(max_length=16, unique=True, default=new_code)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("school")
        verbose_name_plural = _("schools")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    STUDENT = "student", _("Student")
    TEACHER = "teacher", _("Teacher")
    SCHOOL_ADMIN = "school_admin", _("School admin")


class ExocortexUserManager(UserManager):
    def create_user(self, username=None, email=None, password=None, **extra_fields):
        username = username or email
        return super().create_user(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person. Logs in with e-mail; `username` mirrors the e-mail for Django's admin."""

    email = models.EmailField(_("e-mail address"), max_length=150)
    display_name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    # Null for a student who has not joined a class yet, and for site superusers.
    school = models.ForeignKey(
        School, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
    )
    welcome_sent_at = models.DateTimeField(null=True, blank=True)

    objects = ExocortexUserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.email

    @property
    def is_staff_member(self) -> bool:
        """Teacher or school admin: may create classes and (later) author courses."""
        return self.role in (Role.TEACHER, Role.SCHOOL_ADMIN)


class Classroom(models.Model):
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="classrooms")
    teacher = models.ForeignKey(User, on_delete=models.PROTECT, related_name="taught_classrooms")
    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH)
    join_code = models.CharField(max_length=16, unique=True, default=new_code)
    join_code_expires_at = models.DateTimeField()
    capacity = models.PositiveIntegerField(_("capacity"))
    students = models.ManyToManyField(
        User, through="Membership", related_name="classrooms", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("class")
        verbose_name_plural = _("classes")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE)
    student = models.ForeignKey(User, on_delete=models.CASCADE)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["classroom", "student"], name="accounts_membership_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student} in {self.classroom}"
