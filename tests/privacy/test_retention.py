"""Retention: the nightly task deletes exactly what is past its school's date."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from privacy import services, tasks
from privacy.models import AuditEvent, RetentionPolicy
from tests.privacy.conftest import build_class, jpeg_bytes
from tutor.models import LearnerMemory, TranscriptNote, Turn, TutorPhoto, TutorSession

pytestmark = pytest.mark.django_db
SECOND = timedelta(seconds=1)


def age(queryset, field, moment):
    assert queryset.update(**{field: moment}) >= 1


def test_retention_deletes_exactly_what_is_past_its_date(django_capture_on_commit_callbacks):
    klass = build_class()
    far = build_class(
        email="far@example.org", name="Far Away", other_email="o@example.org", other_name="O"
    )
    RetentionPolicy.objects.create(
        school=klass.school, transcripts_days=30, photos_days=10, memory_days=20
    )
    now = timezone.now()
    days = lambda n: now - timedelta(days=n)  # noqa: E731
    mine = TutorSession.objects.get(learner=klass.student)
    theirs = TutorSession.objects.get(learner=klass.other)
    first, second = mine.turns.order_by("seq")
    # transcripts (30 days): one turn a second past the date, one a second inside it
    age(Turn.objects.filter(pk=first.pk), "created_at", days(30) - SECOND)
    age(Turn.objects.filter(pk=second.pk), "created_at", days(30) + SECOND)
    age(TranscriptNote.objects.filter(session=mine), "created_at", days(30) + SECOND)
    # the classmate's whole conversation is past it (last written, every turn)
    age(TutorSession.objects.filter(pk=theirs.pk), "updated_at", days(30) - SECOND)
    age(Turn.objects.filter(session=theirs), "created_at", days(30) - SECOND)
    # photos (10 days)
    old_photo = TutorPhoto.objects.get(session=mine)
    new_photo = TutorPhoto(session=mine, content_type="image/jpeg", width=8, height=8, size=1)
    new_photo.file.save("p", ContentFile(jpeg_bytes()), save=False)
    new_photo.save()
    age(TutorPhoto.objects.filter(pk=old_photo.pk), "created_at", days(10) - SECOND)
    age(TutorPhoto.objects.filter(pk=new_photo.pk), "created_at", days(10) + SECOND)
    # memory (20 days)
    age(LearnerMemory.objects.filter(learner=klass.student), "updated_at", days(20) - SECOND)
    age(LearnerMemory.objects.filter(learner=klass.other), "updated_at", days(20) + SECOND)
    # another school keeps the defaults (365 days): a 31-day-old turn stays there
    age(Turn.objects.filter(session__learner=far.student), "created_at", days(31))
    kept_far = Turn.objects.filter(session__learner=far.student).count()

    with django_capture_on_commit_callbacks(execute=True):
        counts = tasks.enforce_retention.apply(kwargs={}).get()

    assert counts["turns"] == 1 + 2  # my old turn, the classmate's two
    assert counts["tutor_sessions"] == 1
    assert counts["photos"] == 2  # my old photo, the one in the classmate's conversation
    assert counts["learner_memories"] == 1
    assert counts["teacher_notes"] == 1  # on the classmate's conversation
    assert list(mine.turns.values_list("pk", flat=True)) == [second.pk]
    assert TranscriptNote.objects.filter(session=mine).count() == 1
    assert not TutorSession.objects.filter(pk=theirs.pk).exists()
    assert list(TutorPhoto.objects.filter(session=mine)) == [new_photo]
    assert not TutorPhoto.objects.filter(pk=old_photo.pk).exists()
    assert not default_storage.exists(old_photo.file.name)
    assert default_storage.exists(new_photo.file.name)
    emptied = LearnerMemory.objects.get(learner=klass.student)
    assert (emptied.misconceptions, emptied.helped, emptied.interests) == ([], [], [])
    assert LearnerMemory.objects.get(learner=klass.other).interests == ["football"]
    assert Turn.objects.filter(session__learner=far.student).count() == kept_far
    # a second run finds nothing more
    assert set(services.retention_enforce(now=now).values()) == {0}


def test_admin_sets_bounded_retention_for_their_school(client, klass):
    url = reverse("privacy:retention")
    client.force_login(klass.admin)
    page = client.get(url)
    assert page.status_code == 200
    assert 'value="365"' in page.content.decode()
    bad = client.post(url, {"transcripts_days": 0, "photos_days": 10, "memory_days": 5000})
    assert bad.status_code == 400
    assert not RetentionPolicy.objects.exists()
    ok = client.post(url, {"transcripts_days": 60, "photos_days": 10, "memory_days": 90})
    assert ok.status_code == 302
    policy = RetentionPolicy.objects.get(school=klass.school)
    assert (policy.transcripts_days, policy.photos_days, policy.memory_days) == (60, 10, 90)
    event = AuditEvent.objects.get(action="retention_change")
    assert event.metadata == {"transcripts_days": 60, "photos_days": 10, "memory_days": 90}
    client.force_login(klass.teacher)
    assert client.get(url).status_code == 404
    one_day = {"transcripts_days": 1, "photos_days": 1, "memory_days": 1}
    assert client.post(url, one_day).status_code == 404
