"""Voice clips (what a learner said to the tutor) and each school's audio retention policy.

Children's voices are personal data: a clip's raw audio is deleted as soon as it has been
transcribed (or refused), unless its school opted in to keep recordings for at most
MAX_KEEP_DAYS days (SchoolVoicePolicy); the transcript stays with the clip.
voice.tasks.purge_expired_audio enforces the bound hourly.
"""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import School

MAX_KEEP_DAYS = 30


class SchoolVoicePolicy(models.Model):
    """A school's choice about recordings. No row: keep none (the default)."""

    school = models.OneToOneField(School, on_delete=models.CASCADE, related_name="voice_policy")
    # 0: delete a recording once transcribed. 1..MAX_KEEP_DAYS: keep it that long (for a
    # teacher to listen back), then delete it.
    keep_audio_days = models.PositiveSmallIntegerField(
        _("days to keep recordings"),
        default=0,
        validators=[MaxValueValidator(MAX_KEEP_DAYS)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("school voice policy")
        verbose_name_plural = _("school voice policies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(keep_audio_days__lte=MAX_KEEP_DAYS),
                name="voice_policy_keep_days_bounded",
            )
        ]

    def __str__(self) -> str:
        return f"voice policy of school {self.school_id}: keep {self.keep_audio_days} days"


class Failure(models.TextChoices):
    """Why a clip was not transcribed; voice.stt.AudioRejected carries the same codes."""

    EMPTY = "empty", _("The recording is empty. Hold the button while you speak.")
    TOO_LARGE = "too_large", _("The recording is too large. Keep it under a minute.")
    NOT_AUDIO = "not_audio", _("That was not a sound recording. Try recording again.")
    UNSUPPORTED_CODEC = (
        "unsupported_codec",
        _("This audio format is not supported. Record in the browser, or send WAV, Ogg or WebM."),
    )
    TOO_SHORT = "too_short", _("The recording is too short. Hold the button while you speak.")
    TOO_LONG = "too_long", _("The recording is too long. Keep it under a minute.")
    CLIPPED = (
        "clipped",
        _("The recording is distorted: it was too loud. Move back from the microphone a little."),
    )
    SILENCE = "silence", _("No speech was heard. Check your microphone and speak up a little.")
    UNAVAILABLE = (
        "unavailable",
        _("Speech recognition is unavailable right now. Type your question instead."),
    )
    EXPIRED = "expired", _("The recording was not transcribed in time. Please record it again.")


def _audio_path(clip: "VoiceClip", _filename: str) -> str:
    # Never a name the client chose: a random one, by learner, extension of the container.
    extension = {
        "audio/webm": "webm",
        "audio/ogg": "ogg",
        "audio/wav": "wav",
        "audio/flac": "flac",
        "audio/mpeg": "mp3",
        "audio/mp4": "m4a",
        "audio/aac": "aac",
    }.get(clip.content_type, "bin")
    return f"voice-clips/{clip.learner_id}/{uuid.uuid4().hex}.{extension}"


class VoiceClip(models.Model):
    """One utterance: received -> transcribing -> transcribed, or failed with a reason."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        TRANSCRIBING = "transcribing", _("transcribing")
        TRANSCRIBED = "transcribed", _("transcribed")
        FAILED = "failed", _("failed")

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="voice_clips"
    )
    session = models.ForeignKey(
        "tutor.TutorSession",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="voice_clips",
    )
    # Empty once deleted (always after transcription, unless the school keeps recordings).
    audio = models.FileField(upload_to=_audio_path, blank=True)
    content_type = models.CharField(max_length=20)
    codec = models.CharField(max_length=20)
    size = models.PositiveIntegerField()
    # Decoded length; until then what the header declared (None when it says nothing).
    duration_seconds = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    failure = models.CharField(max_length=20, choices=Failure.choices, blank=True)
    # The language asked for (a LANGUAGES code; empty: let Whisper detect it), and the one
    # Whisper transcribed in.
    language = models.CharField(max_length=8, blank=True)
    detected_language = models.CharField(max_length=8, blank=True)
    transcript = models.TextField(blank=True)
    stt_model = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Seconds the model took (decoding and VAD included), for real-time-factor monitoring.
    transcribe_seconds = models.FloatField(null=True, blank=True)
    # When a kept recording must be gone; None when there is no audio or it goes at once.
    audio_delete_after = models.DateTimeField(null=True, blank=True)
    audio_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["audio_delete_after"], name="voice_clip_delete_after"),
            models.Index(fields=["status", "created_at"], name="voice_clip_status"),
        ]

    def __str__(self) -> str:
        return f"voice clip {self.id} of {self.learner_id} ({self.status})"

    @property
    def failure_message(self) -> str:
        """The learner-facing reason (translated in the active language), or ""."""
        return str(Failure(self.failure).label) if self.failure else ""
