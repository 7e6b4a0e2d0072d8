"""Writes for tutor conversations. The consumer calls these through
database_sync_to_async; the caller checked that the learner may study the lesson
(learning.selectors.lesson_get_for_student)."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from courses.models import Lesson
from learning.models import Presentation
from tutor.models import Turn, TutorSession

# A reply still marked `streaming` after this long lost its generator (a crashed or
# restarted web process): it is shown as cut off.
STALE_STREAMING = timedelta(minutes=10)


def session_for_lesson(*, learner: User, lesson: Lesson) -> TutorSession:
    session, _created = TutorSession.objects.get_or_create(
        learner=learner, lesson=lesson, defaults={"course_id": lesson.unit.course_id}
    )
    return session


def _next_seq(session: TutorSession) -> int:
    # The session row lock serialises concurrent writers (two tabs) on the sequence.
    TutorSession.objects.select_for_update().filter(pk=session.pk).first()
    return (session.turns.aggregate(m=Max("seq"))["m"] or 0) + 1


def turn_student_add(
    *, session: TutorSession, text: str, presentation: Presentation | None
) -> Turn:
    """Save the student's message (before anything is sent to the model)."""
    with transaction.atomic():
        return Turn.objects.create(
            session=session,
            seq=_next_seq(session),
            role=Turn.Role.STUDENT,
            text=text,
            presentation=presentation,
            mode="exercise" if presentation else "reading",
            finished_at=timezone.now(),
        )


def turn_tutor_start(
    *, session: TutorSession, presentation: Presentation | None, notes: dict
) -> Turn:
    """Save an empty tutor reply as `streaming` before generation starts."""
    with transaction.atomic():
        return Turn.objects.create(
            session=session,
            seq=_next_seq(session),
            role=Turn.Role.TUTOR,
            status=Turn.Status.STREAMING,
            presentation=presentation,
            mode="exercise" if presentation else "reading",
            notes=notes,
        )


def turn_tutor_finish(
    *, turn: Turn, text: str, status: str, notes: dict | None = None, error: str = ""
) -> Turn:
    """Store how a reply ended: complete, guarded (replaced) or incomplete (cut off)."""
    turn.text = text
    turn.status = status
    turn.error = error[:200]
    if notes:
        turn.notes = {**turn.notes, **notes}
    turn.finished_at = timezone.now()
    turn.save(update_fields=["text", "status", "error", "notes", "finished_at"])
    TutorSession.objects.filter(pk=turn.session_id).update(updated_at=turn.finished_at)
    return turn


def turns_stale_close(*, session: TutorSession) -> int:
    """Mark replies whose generator is long gone as cut off; returns how many."""
    return session.turns.filter(
        status=Turn.Status.STREAMING, created_at__lt=timezone.now() - STALE_STREAMING
    ).update(status=Turn.Status.INCOMPLETE, finished_at=timezone.now(), error="interrupted")


def turns_after(*, session: TutorSession, seq: int, limit: int = 200) -> list[Turn]:
    return list(session.turns.filter(seq__gt=seq).order_by("seq")[:limit])


def conversation_tail(*, session: TutorSession, limit: int) -> list[Turn]:
    """The last `limit` finished turns, oldest first (what the model sees)."""
    turns = list(session.turns.exclude(status=Turn.Status.STREAMING).order_by("-seq")[:limit])
    return turns[::-1]
