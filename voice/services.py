"""Writes for voice clips: receive a recording, transcribe it, forget its audio.

The web side calls clip_receive (cheap: a rate limit and a header probe) and gets the
clip back at once; transcription runs in voice.tasks.transcribe_clip on the `speech`
queue, which calls clip_transcribe. Raw audio is deleted as soon as the clip is
transcribed or refused, unless the school keeps recordings (voice.models).
"""

import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from common.errors import ApplicationError
from common.ratelimit import ratelimit_hit
from voice import stt
from voice.models import Failure, VoiceClip
from voice.selectors import clips_stuck, clips_with_expired_audio, keep_audio_days_for

logger = logging.getLogger(__name__)

_TERMINAL = (VoiceClip.Status.TRANSCRIBED, VoiceClip.Status.FAILED)
# A clip not finished this long after it arrived lost its task; it is failed and its audio
# deleted by the purge, so no recording outlives the policy because a worker died.
STUCK_AFTER = timedelta(hours=1)


def _rejected(reason: str) -> ApplicationError:
    return ApplicationError(str(Failure(reason).label), extra={"reason": reason})


def clip_receive(*, learner: User, data: bytes, session=None, language: str = "") -> VoiceClip:
    """Check a recording's size and header, store it under a random name and queue its
    transcription (after commit). ApplicationError, with extra["reason"] (a Failure code)
    or extra["retry_after"] (rate limit), when it is refused; nothing is stored then.

    The caller checked that `session`, if given, is the learner's own.
    """
    ratelimit_hit(
        scope="voice-clip",
        key=str(learner.pk),
        limit=settings.VOICE_RATE_LIMIT_CLIPS,
        window_seconds=settings.VOICE_RATE_LIMIT_WINDOW_SECONDS,
    )
    if not data:
        raise _rejected(Failure.EMPTY)
    if len(data) > settings.VOICE_CLIP_MAX_BYTES:
        raise _rejected(Failure.TOO_LARGE)
    try:
        probe = stt.audio_probe(data, max_seconds=settings.VOICE_CLIP_MAX_SECONDS)
    except stt.AudioRejected as exc:
        raise _rejected(exc.reason) from exc
    if language not in {code for code, _name in settings.LANGUAGES}:
        language = ""

    from voice.tasks import transcribe_clip

    with transaction.atomic():
        clip = VoiceClip(
            learner=learner,
            session=session,
            content_type=probe.content_type,
            codec=probe.codec,
            size=len(data),
            duration_seconds=probe.declared_seconds,
            language=language,
        )
        clip.audio.save("clip", ContentFile(data), save=False)
        clip.save()
        transcribe_clip.delay_on_commit(clip.id)
    return clip


def stt_model_path() -> Path:
    """The configured model's folder (assembled into VOICE_MODEL_DIR on first use)."""
    return stt.model_path(settings.VOICE_STT_MODEL, cache_dir=Path(settings.VOICE_MODEL_DIR))


def stt_model():
    """The configured WhisperModel, loaded once per worker process."""
    return stt.model_load(
        str(stt_model_path()),
        device=settings.VOICE_STT_DEVICE,
        compute_type=settings.VOICE_STT_COMPUTE_TYPE,
        threads=settings.VOICE_STT_THREADS,
    )


def _audio_forget(clip: VoiceClip, *, now) -> list[str]:
    """Delete the clip's audio now, or date its deletion when the school keeps recordings;
    the fields to save."""
    if not clip.audio:
        return []
    keep_days = keep_audio_days_for(learner=clip.learner)
    if keep_days > 0:
        clip.audio_delete_after = now + timedelta(days=keep_days)
        return ["audio_delete_after"]
    clip.audio.delete(save=False)
    clip.audio_deleted_at = now
    clip.audio_delete_after = None
    return ["audio", "audio_deleted_at", "audio_delete_after"]


def clip_transcribe(*, clip_id: int) -> VoiceClip | None:
    """Transcribe a received clip and forget its audio; returns the clip, or None when it
    no longer exists. Idempotent: a transcribed or failed clip is returned unchanged, and
    a clip left "transcribing" by a worker that died is transcribed again.

    A refused recording fails the clip with its reason. ModelUnavailable (an OSError) is
    raised, clip untouched except its status, for the task to retry. The row lock is held
    only around the status changes, never during the transcription.
    """
    with transaction.atomic():
        clip = VoiceClip.objects.select_for_update().filter(pk=clip_id).first()
        if clip is None or clip.status in _TERMINAL:
            return clip
        clip.status = VoiceClip.Status.TRANSCRIBING
        clip.started_at = timezone.now()
        clip.save(update_fields=["status", "started_at"])

    result: stt.Transcript | None = None
    failure = ""
    model_name = settings.VOICE_STT_MODEL
    try:
        if not clip.audio:
            raise stt.AudioRejected(Failure.EXPIRED)
        with clip.audio.open("rb") as handle:
            data = handle.read()
        audio = stt.audio_decode(data, max_seconds=settings.VOICE_CLIP_MAX_SECONDS)
        result = stt.transcribe(
            audio,
            model=stt_model(),
            language=clip.language or None,
            beam_size=settings.VOICE_STT_BEAM_SIZE,
            allowed_languages=tuple(code for code, _name in settings.LANGUAGES),
            min_window_seconds=settings.VOICE_STT_MIN_WINDOW_SECONDS,
        )
    except stt.AudioRejected as exc:
        failure = exc.reason
        logger.info("voice clip %s refused: %s", clip_id, exc)

    with transaction.atomic():
        clip = VoiceClip.objects.select_for_update().select_related("learner").get(pk=clip_id)
        if clip.status in _TERMINAL:  # a redelivered copy finished first
            return clip
        now = timezone.now()
        fields = ["status", "failure", "finished_at", "stt_model"]
        clip.finished_at = now
        clip.stt_model = model_name
        if result is not None:
            clip.status = VoiceClip.Status.TRANSCRIBED
            clip.transcript = result.text
            clip.detected_language = result.language
            clip.duration_seconds = result.audio_seconds
            clip.transcribe_seconds = result.transcribe_seconds
            fields += ["transcript", "detected_language", "duration_seconds", "transcribe_seconds"]
        else:
            clip.status = VoiceClip.Status.FAILED
            clip.failure = failure
        fields += _audio_forget(clip, now=now)
        clip.save(update_fields=fields)
    return clip


def clip_fail_unavailable(*, clip_id: int) -> VoiceClip | None:
    """Fail a clip whose transcription gave up (the model stayed unavailable) and forget
    its audio. Idempotent like clip_transcribe."""
    with transaction.atomic():
        clip = (
            VoiceClip.objects.select_for_update().select_related("learner").filter(pk=clip_id)
        ).first()
        if clip is None or clip.status in _TERMINAL:
            return clip
        now = timezone.now()
        clip.status = VoiceClip.Status.FAILED
        clip.failure = Failure.UNAVAILABLE
        clip.finished_at = now
        clip.save(update_fields=["status", "failure", "finished_at", *_audio_forget(clip, now=now)])
    return clip


def audio_purge_expired(*, now=None) -> int:
    """Delete every recording past its kept date, and fail clips whose transcription was
    lost (deleting their audio); returns how many recordings were deleted."""
    now = now or timezone.now()
    deleted = 0
    for clip in clips_stuck(before=now - STUCK_AFTER):
        with transaction.atomic():
            locked = VoiceClip.objects.select_for_update().get(pk=clip.pk)
            if locked.status in _TERMINAL:
                continue
            locked.status = VoiceClip.Status.FAILED
            locked.failure = Failure.EXPIRED
            locked.finished_at = now
            locked.audio_delete_after = now  # deleted just below, whatever the policy
            locked.save(update_fields=["status", "failure", "finished_at", "audio_delete_after"])
    for clip in clips_with_expired_audio(now=now).iterator():
        clip.audio.delete(save=False)
        clip.audio_deleted_at = now
        clip.audio_delete_after = None
        clip.save(update_fields=["audio", "audio_deleted_at", "audio_delete_after"])
        deleted += 1
    if deleted:
        logger.info("deleted %d kept voice recordings past their date", deleted)
    return deleted
