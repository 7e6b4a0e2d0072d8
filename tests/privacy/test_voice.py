"""Voice's part: clips and kept recordings are exported and erased with the student."""

import io
import json
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from privacy import services
from voice.models import VoiceClip

pytestmark = pytest.mark.django_db


def clip_for(student, transcript: str) -> VoiceClip:
    clip = VoiceClip(
        learner=student, content_type="audio/wav", codec="pcm", size=4, transcript=transcript
    )
    clip.audio.save("clip", ContentFile(b"RIFF"), save=False)
    clip.save()
    return clip


def test_clips_are_exported_and_erased_with_the_student(klass, django_capture_on_commit_callbacks):
    mine = clip_for(klass.student, "my voice")
    theirs = clip_for(klass.other, "their voice")
    archive, _name = services.personal_data_export(student=klass.student, by=klass.student)
    with zipfile.ZipFile(io.BytesIO(archive.read())) as zf:
        [row] = json.loads(zf.read("voice_clips.json"))
        assert row["transcript"] == "my voice"
        assert zf.read(row["file"]) == b"RIFF"
    request = services.deletion_request(student=klass.student, by=klass.student)
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.user_erase(request_id=request.pk, now=request.scheduled_for)
    assert counts["voice_clips"] == 1
    assert not default_storage.exists(mine.audio.name)
    assert list(VoiceClip.objects.all()) == [theirs]
    assert default_storage.exists(theirs.audio.name)
