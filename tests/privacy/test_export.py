"""Export: everything about one student, by the student or their school's admin, and
nothing of anyone else."""

import io
import json
import zipfile

import pytest
from django.urls import reverse

from learning.models import Attempt, Presentation, ReviewCard, SkillMastery
from privacy import services
from privacy.models import AuditAction, AuditEvent
from tests.factories import TeacherFactory
from tests.privacy.conftest import build_class
from tutor.models import Turn, TutorPhoto, TutorSession

pytestmark = pytest.mark.django_db


def unzip(response) -> dict:
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {
            name: (json.loads(zf.read(name)) if name.endswith(".json") else zf.read(name))
            for name in zf.namelist()
        }


def test_student_exports_every_personal_record_and_nothing_of_a_classmate(client, klass):
    student, other = klass.student, klass.other
    client.force_login(student)
    response = client.post(reverse("privacy:my_data_export"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    archive = unzip(response)

    assert archive["profile.json"]["email"] == student.email
    assert archive["profile.json"]["display_name"] == student.display_name
    assert [m["classroom"]["id"] for m in archive["memberships.json"]] == [klass.classroom.id]
    assert {a["id"] for a in archive["attempts.json"]} == set(
        Attempt.objects.filter(learner=student).values_list("id", flat=True)
    )
    assert len(archive["attempts.json"]) == 2
    assert {p["id"] for p in archive["presentations.json"]} == set(
        Presentation.objects.filter(learner=student).values_list("id", flat=True)
    )
    assert {m["skill"]["id"] for m in archive["mastery.json"]} == set(
        SkillMastery.objects.filter(learner=student).values_list("skill_id", flat=True)
    )
    assert len(archive["review_cards.json"]) == ReviewCard.objects.filter(learner=student).count()
    [session] = archive["tutor_sessions.json"]
    assert session["id"] == TutorSession.objects.get(learner=student).id
    assert [t["text"] for t in session["turns"]] == list(
        Turn.objects.filter(session__learner=student).order_by("seq").values_list("text", flat=True)
    )
    assert session["teacher_notes"][0]["text"] == f"{student.display_name} is doing well"
    assert archive["learner_memory.json"][0]["interests"] == ["football"]
    [identity] = archive["sign_in_identities.json"]
    assert (identity["provider"], identity["uid"]) == ("school-oidc", f"sub-{student.id}")
    assert identity["claims"]["userinfo"]["email"] == student.email
    assert archive["email_addresses.json"] == [
        {"email": student.email, "verified": True, "primary": True}
    ]
    [lms] = archive["lms_identities.json"]
    assert (lms["issuer"], lms["sub"]) == ("https://lms.example.org", f"lms-{student.id}")
    [photo] = archive["photos.json"]
    stored = TutorPhoto.objects.get(session__learner=student)
    with stored.file.open("rb") as handle:
        assert archive[photo["file"]] == handle.read()
    manifest = archive["manifest.json"]
    assert set(manifest["parts"]) | set(manifest["files"]) | {"manifest.json"} == set(archive)

    text = json.dumps({k: v for k, v in archive.items() if k.endswith(".json")})
    for leak in (other.email, other.display_name, "otto"):
        assert leak.lower() not in text.lower()
    other_ids = {
        "attempts.json": set(Attempt.objects.filter(learner=other).values_list("id", flat=True)),
        "tutor_sessions.json": {TutorSession.objects.get(learner=other).id},
    }
    for part, ids in other_ids.items():
        assert not ids & {row["id"] for row in archive[part]}
    assert len(archive["photos.json"]) == 1

    event = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert (event.actor, event.subject, event.school_id) == (student, student, klass.school.id)
    assert event.metadata == {"by": "self"}


def test_school_admin_exports_a_student_of_their_school_only(client, klass):
    client.force_login(klass.admin)
    url = reverse("privacy:student_export", args=[klass.other.id])
    archive = unzip(client.post(url))
    assert archive["profile.json"]["email"] == klass.other.email
    assert AuditEvent.objects.get(action="export").metadata == {"by": "school_admin"}

    elsewhere = build_class(
        email="far@example.org", name="Far Away", other_email="o@example.org", other_name="O"
    )
    response = client.post(reverse("privacy:student_export", args=[elsewhere.student.id]))
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="export").count() == 1


@pytest.mark.parametrize("who", ["teacher", "other_teacher", "classmate"])
def test_nobody_else_may_export(client, klass, who):
    user = {
        "teacher": klass.teacher,
        "other_teacher": TeacherFactory(school=klass.school),
        "classmate": klass.other,
    }[who]
    client.force_login(user)
    response = client.post(reverse("privacy:student_export", args=[klass.student.id]))
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="export").exists()


def test_export_needs_login_post_and_is_rate_limited(client, klass, settings):
    url = reverse("privacy:my_data_export")
    assert client.post(url).status_code == 302  # to the login page
    client.force_login(klass.student)
    assert client.get(url).status_code == 405
    settings.PRIVACY_EXPORT_RATE_LIMIT = 2
    assert client.post(url).status_code == 200
    assert client.post(url).status_code == 200
    limited = client.post(url, follow=False)
    assert limited.status_code == 302
    assert int(limited["Retry-After"]) > 0
    assert AuditEvent.objects.filter(action="export").count() == 2


def test_export_service_names_files_under_their_folders(klass):
    archive, filename = services.personal_data_export(student=klass.student, by=klass.student)
    assert filename.startswith(f"exocortex-data-{klass.student.id}-")
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert any(n.startswith("photos/") and n.endswith(".jpg") for n in names)
