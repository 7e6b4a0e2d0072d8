"""Variant pages: permission checks, clear refusals, review decisions."""

import pytest
from django.urls import reverse

from courses.models import ExerciseKind, ExerciseVariant, VariantBatch
from tests.courses.factories import ExerciseFactory, SkillFactory
from tests.factories import StudentFactory, TeacherFactory

pytestmark = pytest.mark.django_db

DATA = {
    "prompt": "Solve $x + 4 = 10$. <script>alert(1)</script>",
    "computation": "10 - 4",
    "answer": {"value": "6", "tolerance": "0", "relative": False, "unit": ""},
    "hints": ["Subtract $4$."],
    "solution": "$x = 6$",
}


@pytest.fixture
def batch():
    exercise = ExerciseFactory(kind=ExerciseKind.NUMERIC, answer={"value": "5"})
    exercise.skills.add(SkillFactory(course=exercise.lesson.unit.course))
    teacher = TeacherFactory(school=exercise.lesson.unit.course.school)
    batch = VariantBatch.objects.create(
        exercise=exercise,
        requested_by=teacher,
        requested=3,
        drafted=3,
        survived=1,
        dropped_check=2,
        status=VariantBatch.Status.DONE,
    )
    ExerciseVariant.objects.create(batch=batch, data=DATA)
    return batch


def test_teacher_sees_survivors_rendered_safely_and_approves_one(client, batch):
    client.force_login(batch.requested_by)

    page = client.get(reverse("courses:variant_batch", args=[batch.id])).content.decode()
    variant = batch.variants.get()
    response = client.post(
        reverse("courses:variant_decide", args=[variant.id]), {"decision": "approve"}
    )

    assert "1 of 3 drafts passed checking" in page
    assert "<script>alert(1)</script>" not in page
    assert response.status_code == 302
    variant.refresh_from_db()
    assert variant.decision == ExerciseVariant.Decision.APPROVED
    assert batch.exercise.lesson.exercises.count() == 2


def test_other_school_teacher_and_students_get_404_and_change_nothing(client, batch):
    variant = batch.variants.get()
    urls = [
        ("get", reverse("courses:exercise_variants", args=[batch.exercise_id])),
        ("get", reverse("courses:variant_batch", args=[batch.id])),
        ("get", reverse("courses:variant_batch_status", args=[batch.id])),
        ("post", reverse("courses:variant_decide", args=[variant.id])),
        ("post", reverse("courses:exercise_variants", args=[batch.exercise_id])),
    ]
    student = StudentFactory(school=batch.exercise.lesson.unit.course.school)
    for user in (TeacherFactory(), student):
        client.force_login(user)
        for method, url in urls:
            response = getattr(client, method)(url, {"decision": "approve", "count": 2})
            assert response.status_code == 404, (user, url)

    variant.refresh_from_db()
    assert variant.decision == ExerciseVariant.Decision.PENDING
    assert VariantBatch.objects.count() == 1


def test_status_endpoint_reports_progress(client, batch):
    client.force_login(batch.requested_by)

    data = client.get(reverse("courses:variant_batch_status", args=[batch.id])).json()

    assert data == {
        "status": "done",
        "status_label": "Done",
        "requested": 3,
        "drafted": 3,
        "survived": 1,
        "error": "",
    }


def test_request_for_unsupported_kind_shows_message_and_queues_nothing(client):
    exercise = ExerciseFactory(kind=ExerciseKind.SHORT_TEXT, answer={"accepted": ["a"]})
    client.force_login(TeacherFactory(school=exercise.lesson.unit.course.school))

    response = client.post(reverse("courses:exercise_variants", args=[exercise.id]), {"count": 2})

    assert response.status_code == 400
    assert "number and math-expression exercises only" in response.content.decode()
    assert not VariantBatch.objects.exists()
