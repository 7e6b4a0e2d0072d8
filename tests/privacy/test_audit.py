"""The audit log: what is recorded, who sees it, and that nothing can change it."""

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch

from accounts.models import Role
from privacy import services
from privacy.models import AuditAction, AuditEvent
from tests.factories import PASSWORD, UserFactory
from tests.privacy.conftest import build_class
from tutor.models import TutorSession

pytestmark = pytest.mark.django_db


def test_login_is_recorded_without_the_address_typed(client, klass):
    response = client.post(
        reverse("accounts:login"), {"email": klass.student.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.school_id) == ("login", klass.student, klass.school.id)
    assert event.metadata == {}
    client.logout()
    client.post(reverse("accounts:login"), {"email": klass.student.email, "password": "wrong"})
    assert AuditEvent.objects.count() == 1


def test_a_teacher_reading_a_transcript_is_recorded(client, klass):
    session = TutorSession.objects.get(learner=klass.student)
    client.force_login(klass.teacher)
    url = reverse("tutor:transcript", args=[klass.classroom.id, session.id])
    assert client.get(url).status_code == 200
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.subject) == (
        AuditAction.TRANSCRIPT_VIEW,
        klass.teacher,
        klass.student,
    )
    assert (event.target_type, event.target_id) == ("tutor.tutorsession", session.id)


def test_metadata_takes_codes_and_numbers_only(klass):
    for bad in ({"name": klass.student.display_name}, {"email": klass.student.email}, {"x": [1]}):
        with pytest.raises(ValueError, match="audit metadata"):
            services.audit_record(action="export", actor=klass.admin, metadata=bad)
    assert not AuditEvent.objects.exists()


def test_school_admin_sees_their_school_only_with_filters(client, klass):
    far = build_class(
        email="far@example.org", name="Far Away", other_email="o@example.org", other_name="O"
    )
    services.audit_record(action="login", actor=klass.student)
    services.audit_record(action="export", actor=klass.admin, subject=klass.other)
    services.audit_record(action="login", actor=far.student)
    client.force_login(klass.admin)
    url = reverse("privacy:audit_log")
    body = client.get(url).content.decode()
    assert body.count('data-testid="audit-event"') == 2
    assert "Far Away" not in body
    filtered = client.get(url, {"action": "export"}).content.decode()
    assert filtered.count('data-testid="audit-event"') == 1
    assert klass.other.display_name in filtered
    by_actor = client.get(url, {"actor": klass.student.id}).content.decode()
    assert by_actor.count('data-testid="audit-event"') == 1
    for user in (klass.teacher, klass.student):
        client.force_login(user)
        assert client.get(url).status_code == 404


def test_the_model_refuses_changes_and_deletion(klass):
    event = services.audit_record(action="login", actor=klass.student)
    event.action = "export"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="export")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().action == "login"


def test_admin_site_shows_the_log_read_only():
    model_admin = admin.site._registry[AuditEvent]
    assert not model_admin.has_add_permission(None)
    assert not model_admin.has_change_permission(None)
    assert not model_admin.has_delete_permission(None)
    assert model_admin.get_actions(type("R", (), {"GET": {}, "user": None})()) == {}


def _all_urls(resolver: URLResolver | None = None, namespace: str = ""):
    """(name with namespace, pattern) of every named URL of the project."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _all_urls(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry


def _urls_pointing_at(event: AuditEvent) -> list[str]:
    """Every project URL, its parameters filled with the event's id (or the audit model's
    app and content type, for the admin site's generic URLs)."""
    from django.contrib.contenttypes.models import ContentType

    special = {
        "app_label": "privacy",
        "content_type_id": ContentType.objects.get_for_model(AuditEvent).id,
    }
    urls = set()
    for name, pattern in _all_urls():
        params = list(pattern.pattern.regex.groupindex)
        kwargs = {p: special.get(p, event.pk) for p in params}
        try:
            urls.add(reverse(name, kwargs=kwargs))
        except NoReverseMatch:
            continue
    return sorted(urls)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_no_url_of_the_project_changes_or_deletes_an_audit_event(client, klass, method):
    event = services.audit_record(action="export", actor=klass.admin, subject=klass.student)
    before = list(AuditEvent.objects.values())
    superuser = UserFactory(
        is_staff=True, is_superuser=True, role=Role.SCHOOL_ADMIN, school=klass.school
    )
    urls = _urls_pointing_at(event)
    assert f"/admin/privacy/auditevent/{event.pk}/delete/" in urls
    assert f"/admin/privacy/auditevent/{event.pk}/change/" in urls
    payload = {
        "post": "yes",
        "action": "delete_selected",
        "_selected_action": [event.pk],
        "metadata": "{}",
        "target_type": "x",
    }
    for user in (klass.admin, superuser):
        client.force_login(user)
        for url in urls:
            if method == "post":
                getattr(client, method)(url, payload)
            else:
                getattr(client, method)(url)
    after = list(AuditEvent.objects.filter(pk__in=[e["id"] for e in before]).values())
    assert after == before
