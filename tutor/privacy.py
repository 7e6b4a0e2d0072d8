"""The tutor's part of a student's personal data (privacy.registry): conversations and
their turns, teachers' notes on them, photos of work, and the learner memory."""

from django.db.models import Q

from accounts.models import User
from privacy.registry import Cutoffs, PersonalData, delete_files_on_commit
from tutor.models import LearnerMemory, TranscriptNote, Turn, TutorPhoto, TutorSession


def _when(value):
    return value.isoformat() if value else None


def personal_data_export(*, user: User) -> PersonalData:
    sessions = TutorSession.objects.filter(learner=user).select_related("lesson", "course")
    data = PersonalData()
    data.parts["tutor_sessions"] = [
        {
            "id": session.id,
            "course": {"id": session.course_id, "title": session.course.title},
            "lesson": {"id": session.lesson_id, "title": session.lesson.title},
            "created_at": _when(session.created_at),
            "updated_at": _when(session.updated_at),
            "flagged_at": _when(session.flagged_at),
            "flags": session.flags,
            "turns": [
                {
                    "seq": turn.seq,
                    "role": turn.role,
                    "text": turn.text,
                    "status": turn.status,
                    "mode": turn.mode,
                    "exercise_id": turn.presentation.exercise_id if turn.presentation else None,
                    "notes": turn.notes,
                    "flags": turn.flags,
                    "created_at": _when(turn.created_at),
                    "finished_at": _when(turn.finished_at),
                }
                for turn in session.turns.select_related("presentation").order_by("seq")
            ],
            # Teachers' notes about the conversation; who wrote them is theirs to keep.
            "teacher_notes": [
                {
                    "kind": note.kind,
                    "turn_seq": note.turn_seq,
                    "text": note.text,
                    "created_at": _when(note.created_at),
                }
                for note in session.notes.order_by("created_at", "id")
            ],
        }
        for session in sessions.order_by("created_at", "id")
    ]
    data.parts["learner_memory"] = [
        {
            "course_id": memory.course_id,
            "misconceptions": memory.misconceptions,
            "helped": memory.helped,
            "interests": memory.interests,
            "updated_at": _when(memory.updated_at),
            "deleted_at": _when(memory.deleted_at),
        }
        for memory in LearnerMemory.objects.filter(learner=user).order_by("course_id")
    ]
    photos = TutorPhoto.objects.filter(session__learner=user).select_related("turn")
    data.parts["photos"] = []
    for photo in photos.order_by("created_at", "id"):
        path = f"photos/{photo.id}.{photo.file.name.rsplit('.', 1)[-1]}"
        data.parts["photos"].append(
            {
                "file": path,
                "session_id": photo.session_id,
                "turn_seq": photo.turn.seq if photo.turn else None,
                "content_type": photo.content_type,
                "width": photo.width,
                "height": photo.height,
                "created_at": _when(photo.created_at),
            }
        )
        data.files[path] = photo.file
    return data


def personal_data_erase(*, user: User) -> dict[str, int]:
    photos = list(TutorPhoto.objects.filter(session__learner=user))
    files = delete_files_on_commit(p.file for p in photos)
    TutorPhoto.objects.filter(pk__in=[p.pk for p in photos]).delete()
    sessions = TutorSession.objects.filter(learner=user)
    notes, _ = TranscriptNote.objects.filter(session__in=sessions).delete()
    turns, _ = Turn.objects.filter(session__in=sessions).delete()
    deleted_sessions, _ = sessions.delete()
    memories, _ = LearnerMemory.objects.filter(learner=user).delete()
    return {
        "photos": files,
        "teacher_notes": notes,
        "turns": turns,
        "tutor_sessions": deleted_sessions,
        "learner_memories": memories,
    }


def retention_purge(*, school_id: int | None, cutoffs: Cutoffs) -> dict[str, int]:
    """Photos older than their cutoff; then conversations not touched since the
    transcripts cutoff (whole), and older turns and notes of the others; memories not
    refreshed since the memory cutoff are emptied (the row stays, so the deleted notes
    are not distilled again from turns already read)."""
    learners = Q(session__learner__school_id=school_id)
    old_photos = list(TutorPhoto.objects.filter(learners, created_at__lt=cutoffs.photos))
    photos = delete_files_on_commit(p.file for p in old_photos)
    TutorPhoto.objects.filter(pk__in=[p.pk for p in old_photos]).delete()

    stale = TutorSession.objects.filter(
        learner__school_id=school_id, updated_at__lt=cutoffs.transcripts
    ).exclude(turns__created_at__gte=cutoffs.transcripts)
    stale_photos = list(TutorPhoto.objects.filter(session__in=stale))
    photos += delete_files_on_commit(p.file for p in stale_photos)
    TutorPhoto.objects.filter(pk__in=[p.pk for p in stale_photos]).delete()
    notes, _ = TranscriptNote.objects.filter(
        Q(session__in=stale) | Q(created_at__lt=cutoffs.transcripts),
        session__learner__school_id=school_id,
    ).delete()
    turns, _ = Turn.objects.filter(
        Q(session__in=stale) | Q(created_at__lt=cutoffs.transcripts), learners
    ).delete()
    sessions, _ = stale.delete()

    memories = LearnerMemory.objects.filter(
        learner__school_id=school_id, updated_at__lt=cutoffs.memory, deleted_at__isnull=True
    ).exclude(misconceptions=[], helped=[], interests=[])
    # update(): save() would move updated_at, and the row is no longer personal.
    emptied = memories.update(misconceptions=[], helped=[], interests=[])
    return {
        "photos": photos,
        "teacher_notes": notes,
        "turns": turns,
        "tutor_sessions": sessions,
        "learner_memories": emptied,
    }
