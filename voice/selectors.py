"""Reads for voice clips and retention."""

from datetime import datetime

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.models import User
from common.errors import ApplicationError
from voice.models import SchoolVoicePolicy, VoiceClip


def clip_get_for_learner(*, learner: User, clip_id: int) -> VoiceClip:
    """The learner's own clip; ApplicationError for anyone else's or a missing one (the
    same answer, so ids cannot be probed)."""
    clip = VoiceClip.objects.filter(pk=clip_id, learner=learner).first()
    if clip is None:
        raise ApplicationError(_("That recording was not found."))
    return clip


def keep_audio_days_for(*, learner: User) -> int:
    """Days the learner's school keeps recordings after transcription: 0 (the default, and
    for a learner without a school) means delete at once."""
    if learner.school_id is None:
        return 0
    policy = SchoolVoicePolicy.objects.filter(school_id=learner.school_id).first()
    return policy.keep_audio_days if policy else 0


def clips_with_expired_audio(*, now: datetime) -> QuerySet[VoiceClip]:
    """Clips whose kept recording is past its date."""
    return VoiceClip.objects.filter(audio_delete_after__lte=now).exclude(audio="")


def clips_stuck(*, before: datetime) -> QuerySet[VoiceClip]:
    """Clips received (or started) before `before` that never finished: their task was lost."""
    return VoiceClip.objects.filter(
        status__in=[VoiceClip.Status.RECEIVED, VoiceClip.Status.TRANSCRIBING],
        created_at__lt=before,
    )
