"""Every privacy page needs a login and the right role; an admin sees their school only."""

import pytest
from django.urls import reverse

from tests.privacy.conftest import build_class

pytestmark = pytest.mark.django_db

PAGES = [
    ("get", "privacy:my_data", []),
    ("post", "privacy:my_data_export", []),
    ("post", "privacy:my_data_delete", []),
    ("post", "privacy:my_data_delete_cancel", []),
    ("get", "privacy:school_students", []),
    ("post", "privacy:student_export", [1]),
    ("post", "privacy:student_delete", [1]),
    ("post", "privacy:student_delete_cancel", [1]),
    ("get", "privacy:retention", []),
    ("get", "privacy:audit_log", []),
]


@pytest.mark.parametrize(("method", "name", "args"), PAGES)
def test_every_page_needs_a_login(client, method, name, args):
    response = getattr(client, method)(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_student_page_and_nav(client, klass):
    client.force_login(klass.student)
    page = client.get(reverse("privacy:my_data"))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="nav-my-data"' in body
    assert 'data-testid="request-deletion"' in body
    assert "csrfmiddlewaretoken" in body
    for name in ("privacy:school_students", "privacy:retention", "privacy:audit_log"):
        assert client.get(reverse(name)).status_code == 404


def test_staff_have_no_my_data_page(client, klass):
    for user in (klass.teacher, klass.admin):
        client.force_login(user)
        assert client.get(reverse("privacy:my_data")).status_code == 404
        assert client.post(reverse("privacy:my_data_delete")).status_code == 404


def test_admin_lists_the_students_of_their_school_only(client, klass):
    far = build_class(
        email="far@example.org", name="Far Away", other_email="o@example.org", other_name="O"
    )
    client.force_login(klass.admin)
    body = client.get(reverse("privacy:school_students")).content.decode()
    assert klass.student.email in body
    assert klass.other.email in body
    assert far.student.email not in body
    assert klass.teacher.email not in body
    assert 'data-testid="nav-privacy"' in body
    for name in ("privacy:student_delete", "privacy:student_delete_cancel"):
        assert client.post(reverse(name, args=[far.student.id])).status_code == 404
