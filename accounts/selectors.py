"""Reads for accounts, and the permission-checked lookups every app uses.

A lookup that the user may not see raises Http404 (never 403), so ids of another
school's objects cannot be probed.
"""

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts.models import Classroom, Role, User


def classrooms_visible_to(*, user: User) -> QuerySet[Classroom]:
    """Classes `user` may open: a teacher's own, all of a school admin's school, or the
    classes a student joined. Always limited to the user's school."""
    if not user.is_authenticated or user.school_id is None:
        return Classroom.objects.none()
    qs = Classroom.objects.filter(school_id=user.school_id)
    if user.role == Role.SCHOOL_ADMIN:
        pass
    elif user.role == Role.TEACHER:
        qs = qs.filter(teacher=user)
    else:
        qs = qs.filter(membership__student=user)
    return qs.select_related("teacher").annotate(student_count=Count("membership", distinct=True))


def classroom_get_for_user(*, user: User, classroom_id: int) -> Classroom:
    """The classroom, if `user` may see it; Http404 otherwise."""
    classroom = classrooms_visible_to(user=user).filter(pk=classroom_id).first()
    if classroom is None:
        raise Http404("No such class.")
    return classroom


def classroom_get_for_manager(*, user: User, classroom_id: int) -> Classroom:
    """The classroom, if `user` teaches it or administers its school; Http404 otherwise."""
    classroom = classroom_get_for_user(user=user, classroom_id=classroom_id)
    if not user.is_staff_member:
        raise Http404("No such class.")
    return classroom


def classroom_students(*, classroom: Classroom) -> QuerySet[User]:
    return User.objects.filter(membership__classroom=classroom).order_by("display_name", "id")


def school_staff(*, user: User) -> QuerySet[User]:
    if user.school_id is None:
        return User.objects.none()
    return User.objects.filter(
        Q(role=Role.TEACHER) | Q(role=Role.SCHOOL_ADMIN), school_id=user.school_id
    ).order_by("display_name")
