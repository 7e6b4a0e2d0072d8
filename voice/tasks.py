"""Celery tasks for voice. Thin: take ids, re-fetch, call a service.

transcribe_clip is routed to the `speech` queue (settings.CELERY_TASK_ROUTES), so a
worker started with `-Q speech` holds the Whisper model and a flood of grading never
waits behind it, nor it behind grading.
"""

import logging

from celery import shared_task

from common.tasks import MAX_RETRIES, MAX_RETRY_BACKOFF

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=MAX_RETRIES, time_limit=120, soft_time_limit=100)
def transcribe_clip(self, clip_id: int) -> str:
    """Transcribe one clip; returns its status ("transcribed", "failed") or "missing".

    Idempotent (voice.services.clip_transcribe leaves a finished clip alone). A clip is at
    most VOICE_CLIP_MAX_SECONDS long, so the time limits are generous; when the model is
    not installed yet (ModelUnavailable) the task retries with backoff, then fails the
    clip with a message instead of leaving the learner waiting for ever. Refused audio is
    not retried: it fails the clip with its reason.
    """
    from voice.services import clip_fail_unavailable, clip_transcribe
    from voice.stt import ModelUnavailable

    try:
        clip = clip_transcribe(clip_id=clip_id)
    except ModelUnavailable as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            logger.error("voice clip %s not transcribed: %s", clip_id, exc)
            clip = clip_fail_unavailable(clip_id=clip_id)
        else:
            countdown = min(MAX_RETRY_BACKOFF, 10 * 2**self.request.retries)
            raise self.retry(exc=exc, countdown=countdown) from exc
    return "missing" if clip is None else clip.status


@shared_task(time_limit=600, soft_time_limit=570)
def purge_expired_audio() -> int:
    """Hourly (beat): delete kept recordings past their school's retention, and fail clips
    whose transcription was lost; returns how many recordings were deleted."""
    from voice.services import audio_purge_expired

    return audio_purge_expired()
