"""Reads for teachers' oversight of tutor conversations.

A teacher reads the conversations of their own classes only: those of the class's
students, on the courses assigned to the class. Everything goes through
accounts.selectors.classroom_get_for_manager, so another school's class (or a class the
user does not teach or administer) is a 404.
"""

from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, QuerySet
from django.http import Http404

from accounts.models import Classroom, User
from accounts.selectors import classroom_get_for_manager, classrooms_visible_to
from learning.selectors import classroom_courses
from tutor.models import Turn, TutorPhoto, TutorSession


@dataclass(frozen=True)
class TranscriptFilter:
    flagged: bool = False
    student_id: int | None = None
    exercise_id: int | None = None


def classroom_sessions(
    *, classroom: Classroom, filters: TranscriptFilter = TranscriptFilter()
) -> QuerySet[TutorSession]:
    """The class's tutor conversations, flagged first, then the most recent."""
    course_ids = classroom_courses(classroom=classroom).values("course_id")
    sessions = TutorSession.objects.filter(
        learner__membership__classroom=classroom, course_id__in=course_ids
    )
    if filters.flagged:
        sessions = sessions.filter(flagged_at__isnull=False)
    if filters.student_id is not None:
        sessions = sessions.filter(learner_id=filters.student_id)
    if filters.exercise_id is not None:
        sessions = sessions.filter(
            Exists(
                Turn.objects.filter(
                    session=OuterRef("pk"), presentation__exercise_id=filters.exercise_id
                )
            )
        )
    return (
        sessions.select_related("learner", "lesson", "course")
        .annotate(turn_count=Count("turns"))
        .order_by(F("flagged_at").desc(nulls_last=True), "-updated_at")
        .distinct()
    )


def classroom_flagged_count(*, classroom: Classroom) -> int:
    return classroom_sessions(classroom=classroom, filters=TranscriptFilter(flagged=True)).count()


def session_get_for_teacher(*, user: User, classroom_id: int, session_id: int) -> TutorSession:
    """The conversation, if it belongs to the class and `user` may manage the class;
    Http404 otherwise."""
    classroom = classroom_get_for_manager(user=user, classroom_id=classroom_id)
    session = classroom_sessions(classroom=classroom).filter(pk=session_id).first()
    if session is None:
        raise Http404("No such conversation.")
    return session


def session_transcript(*, session: TutorSession) -> list[Turn]:
    return list(session.turns.select_related("presentation__exercise", "photo").order_by("seq"))


def photo_get_for_user(*, user: User, photo_id: int) -> TutorPhoto:
    """A photo, for the student who sent it and the staff who may read the conversation
    it is in (a class of theirs with that student and that course); Http404 otherwise."""
    photo = TutorPhoto.objects.select_related("session").filter(pk=photo_id).first()
    if photo is None:
        raise Http404("No such photo.")
    session = photo.session
    if session.learner_id == user.id:
        return photo
    if user.is_authenticated and user.is_staff_member:
        managed = classrooms_visible_to(user=user).filter(
            membership__student_id=session.learner_id, assignments__course_id=session.course_id
        )
        if managed.exists():
            return photo
    raise Http404("No such photo.")


def classroom_exercises_discussed(*, classroom: Classroom) -> list[tuple[int, str]]:
    """(exercise id, label) of the exercises the class's conversations were about, for
    the filter; the label is the lesson's title and the exercise's number in it."""
    rows = (
        Turn.objects.filter(
            session__in=classroom_sessions(classroom=classroom).values("pk"),
            presentation__isnull=False,
        )
        .values_list(
            "presentation__exercise_id",
            "presentation__lesson__title",
            "presentation__exercise__position",
        )
        .distinct()
        .order_by("presentation__lesson__title", "presentation__exercise__position")
    )
    return [(pk, f"{title} · {position + 1}") for pk, title, position in rows]
