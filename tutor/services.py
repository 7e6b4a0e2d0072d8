"""Writes for tutor conversations. The consumer calls these through
database_sync_to_async; the caller checked that the learner may study the lesson
(learning.selectors.lesson_get_for_student)."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from common.errors import ApplicationError
from courses.models import Lesson
from learning.models import Presentation
from tutor.models import TranscriptNote, Turn, TutorSession

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
    *,
    session: TutorSession,
    text: str,
    presentation: Presentation | None,
    flags: tuple[str, ...] = (),
) -> Turn:
    """Save the student's message (before anything is sent to the model); `text` is
    already screened (personal data masked), `flags` what screening found. A flagged
    message flags the conversation (session_flag)."""
    with transaction.atomic():
        turn = Turn.objects.create(
            session=session,
            seq=_next_seq(session),
            role=Turn.Role.STUDENT,
            text=text,
            presentation=presentation,
            mode="exercise" if presentation else "reading",
            flags=list(flags),
            finished_at=timezone.now(),
        )
        if flags:
            session_flag(session=session, reasons=flags)
        return turn


def turn_tutor_add(
    *, session: TutorSession, text: str, presentation: Presentation | None, notes: dict
) -> Turn:
    """Save a finished tutor reply that no model wrote (e.g. the safety message)."""
    with transaction.atomic():
        return Turn.objects.create(
            session=session,
            seq=_next_seq(session),
            role=Turn.Role.TUTOR,
            text=text,
            presentation=presentation,
            mode="exercise" if presentation else "reading",
            notes=notes,
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
    return list(session.turns.filter(seq__gt=seq).select_related("photo").order_by("seq")[:limit])


def conversation_tail(*, session: TutorSession, limit: int) -> list[Turn]:
    """The last `limit` finished turns, oldest first (what the model sees)."""
    turns = list(
        session.turns.exclude(status=Turn.Status.STREAMING)
        .select_related("photo")
        .order_by("-seq")[:limit]
    )
    return turns[::-1]


# --- flags and teacher notes --------------------------------------------------------------


def session_flag(*, session: TutorSession, reasons: tuple[str, ...] | list[str], by=None) -> bool:
    """Flag the conversation for its teachers; returns whether it was not flagged before.

    A newly flagged conversation alerts the learner's class teachers by e-mail once the
    transaction commits (tutor.tasks.alert_teachers). `by`: the teacher who flagged it
    (recorded as a note), None for screening.
    """
    with transaction.atomic():
        locked = TutorSession.objects.select_for_update().get(pk=session.pk)
        newly = locked.flagged_at is None
        locked.flags = [*locked.flags, *(r for r in reasons if r not in locked.flags)]
        if newly:
            locked.flagged_at = timezone.now()
        locked.save(update_fields=["flags", "flagged_at"])
        session.flags, session.flagged_at = locked.flags, locked.flagged_at
        if by is not None:
            TranscriptNote.objects.create(
                session=session, author=by, kind=TranscriptNote.Kind.FLAGGED
            )
        if newly and by is None:
            from tutor.tasks import alert_teachers

            transaction.on_commit(lambda: alert_teachers.delay(session.pk))
    return newly


def session_unflag(*, session: TutorSession, by: User) -> None:
    """A teacher reviewed the flagged conversation. The caller checked that `by` may read
    it (tutor.selectors.session_get_for_teacher)."""
    with transaction.atomic():
        TutorSession.objects.filter(pk=session.pk).update(flagged_at=None, flags=[])
        session.flagged_at, session.flags = None, []
        TranscriptNote.objects.create(session=session, author=by, kind=TranscriptNote.Kind.CLEARED)


def note_add(*, session: TutorSession, author: User, text: str, turn_seq: int | None = None):
    """A teacher's comment on the conversation (or its turn `turn_seq`). The caller checked
    access (tutor.selectors.session_get_for_teacher)."""
    text = text.strip()
    if not text:
        raise ApplicationError(_("Write a comment first."), field="text")
    if len(text) > 2000:
        raise ApplicationError(_("Keep comments under 2,000 characters."), field="text")
    if turn_seq is not None and not session.turns.filter(seq=turn_seq).exists():
        raise ApplicationError(_("No such message in this conversation."), field="turn")
    return TranscriptNote.objects.create(
        session=session, author=author, text=text, turn_seq=turn_seq
    )
