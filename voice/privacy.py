"""Voice's part of a student's personal data (privacy.registry): the clips they spoke,
their transcripts, and the recordings a school chose to keep. Recordings' own time bound
is the school's voice policy (voice.tasks.purge_expired_audio); the transcripts follow
the school's transcript retention like the rest of the conversation."""

from accounts.models import User
from privacy.registry import Cutoffs, PersonalData, delete_files_on_commit
from voice.models import VoiceClip


def _when(value):
    return value.isoformat() if value else None


def personal_data_export(*, user: User) -> PersonalData:
    data = PersonalData()
    data.parts["voice_clips"] = []
    for clip in VoiceClip.objects.filter(learner=user).order_by("created_at", "id"):
        path = None
        if clip.audio:
            path = f"audio/{clip.id}.{clip.audio.name.rsplit('.', 1)[-1]}"
            data.files[path] = clip.audio
        data.parts["voice_clips"].append(
            {
                "id": clip.id,
                "session_id": clip.session_id,
                "file": path,
                "content_type": clip.content_type,
                "duration_seconds": clip.duration_seconds,
                "status": clip.status,
                "failure": clip.failure,
                "language": clip.language,
                "detected_language": clip.detected_language,
                "transcript": clip.transcript,
                "created_at": _when(clip.created_at),
                "audio_deleted_at": _when(clip.audio_deleted_at),
            }
        )
    return data


def _delete(clips) -> int:
    clips = list(clips)
    delete_files_on_commit(c.audio for c in clips)
    VoiceClip.objects.filter(pk__in=[c.pk for c in clips]).delete()
    return len(clips)


def personal_data_erase(*, user: User) -> dict[str, int]:
    return {"voice_clips": _delete(VoiceClip.objects.filter(learner=user))}


def retention_purge(*, school_id: int | None, cutoffs: Cutoffs) -> dict[str, int]:
    old = VoiceClip.objects.filter(learner__school_id=school_id, created_at__lt=cutoffs.transcripts)
    return {"voice_clips": _delete(old)}
