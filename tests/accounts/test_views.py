import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import Classroom, Membership, Role, User
from tests.factories import PASSWORD, ClassroomFactory, StudentFactory, TeacherFactory, enroll

pytestmark = pytest.mark.django_db


def test_signup_page_renders_all_languages_selectable(client):
    response = client.get(reverse("accounts:signup"))

    assert response.status_code == 200
    for code in ("en", "es", "fr", "ar"):
        assert f'value="{code}"' in response.content.decode()


def test_teacher_signs_up_creates_class_and_sees_code(client):
    response = client.post(
        reverse("accounts:signup"),
        {
            "display_name": "Ms Rivera",
            "email": "rivera@example.org",
            "password": "a-long-and-unusual-passphrase",
            "role": "teacher",
            "preferred_language": "es",
            "school_name": "Escuela Norte",
        },
    )
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "es"

    response = client.post(
        reverse("accounts:classroom_create"), {"name": "Álgebra", "capacity": 20}
    )
    classroom = Classroom.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:classroom_detail", args=[classroom.id])

    page = client.get(response["Location"]).content.decode()
    assert classroom.join_code in page
    assert 'lang="es"' in page


def test_student_joins_with_code_and_wrong_code_shows_message(client):
    classroom = ClassroomFactory()
    student = StudentFactory()
    client.force_login(student)

    bad = client.post(reverse("accounts:classroom_join"), {"code": "NOPE9999"})
    assert bad.status_code == 400
    assert "No class has this code" in bad.content.decode()
    assert not Membership.objects.exists()

    good = client.post(reverse("accounts:classroom_join"), {"code": classroom.join_code})
    assert good.status_code == 302
    assert Membership.objects.filter(classroom=classroom, student=student).exists()


def test_over_long_class_name_is_refused_with_message(client):
    teacher = TeacherFactory()
    client.force_login(teacher)

    response = client.post(
        reverse("accounts:classroom_create"), {"name": "x" * 101, "capacity": 10}
    )

    assert response.status_code == 400
    assert "at most 100 characters" in response.content.decode()
    assert not Classroom.objects.exists()


def test_duplicate_email_signup_shows_message_and_creates_nothing(client):
    StudentFactory(email="taken@example.org")

    response = client.post(
        reverse("accounts:signup"),
        {
            "display_name": "Other",
            "email": "TAKEN@example.org",
            "password": "a-long-and-unusual-passphrase",
            "role": "student",
            "preferred_language": "en",
        },
    )

    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1


def test_teacher_of_other_school_gets_404_on_class_pages(client):
    classroom = ClassroomFactory()
    outsider = TeacherFactory()  # a different school
    client.force_login(outsider)

    assert client.get(reverse("accounts:classroom_detail", args=[classroom.id])).status_code == 404
    code_url = reverse("accounts:classroom_code_regenerate", args=[classroom.id])
    old_code = classroom.join_code
    assert client.post(code_url).status_code == 404
    classroom.refresh_from_db()
    assert classroom.join_code == old_code


def test_student_sees_own_class_but_not_a_sibling_class_or_the_roster(client):
    classroom = ClassroomFactory()
    sibling = ClassroomFactory(teacher=TeacherFactory(school=classroom.school))
    student = StudentFactory()
    enroll(classroom, student)
    client.force_login(student)

    own = client.get(reverse("accounts:classroom_detail", args=[classroom.id]))
    assert own.status_code == 200
    assert classroom.join_code not in own.content.decode()
    assert client.get(reverse("accounts:classroom_detail", args=[sibling.id])).status_code == 404
    regenerate = reverse("accounts:classroom_code_regenerate", args=[classroom.id])
    assert client.post(regenerate).status_code == 404


def test_school_admin_sees_every_class_of_the_school_only(client):
    admin = TeacherFactory(role=Role.SCHOOL_ADMIN)
    colleague_class = ClassroomFactory(teacher=TeacherFactory(school=admin.school))
    foreign_class = ClassroomFactory()
    client.force_login(admin)

    page = client.get(reverse("accounts:dashboard")).content.decode()

    assert colleague_class.name in page
    assert foreign_class.name not in page
    assert admin.school.staff_code in page


def test_pages_require_login(client):
    classroom = ClassroomFactory()
    for url in (
        reverse("accounts:dashboard"),
        reverse("accounts:classroom_detail", args=[classroom.id]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_post_without_csrf_token_is_rejected():
    csrf_client = Client(enforce_csrf_checks=True)
    teacher = TeacherFactory()
    csrf_client.force_login(teacher)

    response = csrf_client.post(reverse("accounts:classroom_create"), {"name": "X", "capacity": 5})

    assert response.status_code == 403
    assert not Classroom.objects.exists()


def test_login_is_rate_limited_per_account_with_retry_after(client, settings):
    settings.RATE_LIMIT_ACCOUNT_ATTEMPTS = 3
    teacher = TeacherFactory()
    url = reverse("accounts:login")
    statuses = [
        client.post(url, {"email": teacher.email, "password": "wrong"}).status_code
        for _ in range(4)
    ]
    blocked = client.post(url, {"email": teacher.email.upper(), "password": PASSWORD})

    assert statuses == [400, 400, 400, 429]
    assert blocked.status_code == 429
    assert 0 < int(blocked["Retry-After"]) <= settings.RATE_LIMIT_WINDOW_SECONDS
    assert "_auth_user_id" not in client.session


def test_one_locked_account_leaves_its_school_behind_the_same_address_alone(client, settings):
    # given: a school behind one address (NAT); one account is locked out by guesses
    settings.RATE_LIMIT_ACCOUNT_ATTEMPTS = 3
    settings.RATE_LIMIT_ADDRESS_ATTEMPTS = 10
    url = reverse("accounts:login")
    guessed, classmate = StudentFactory(), StudentFactory()
    for _ in range(4):
        client.post(url, {"email": guessed.email, "password": "wrong"})
    # when: a classmate logs in from the same address
    response = client.post(url, {"email": classmate.email, "password": PASSWORD})
    # then
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(classmate.pk)


def test_address_limit_stops_guessing_across_many_accounts(client, settings):
    settings.RATE_LIMIT_ACCOUNT_ATTEMPTS = 3
    settings.RATE_LIMIT_ADDRESS_ATTEMPTS = 5
    url = reverse("accounts:login")
    students = StudentFactory.create_batch(6)

    statuses = [
        client.post(url, {"email": s.email, "password": "wrong"}).status_code for s in students
    ]

    assert statuses == [400, 400, 400, 400, 400, 429]
    assert "Retry-After" in client.post(url, {"email": "x@example.org", "password": "x"})


def test_successful_logins_do_not_use_up_the_address_limit(client, settings):
    settings.RATE_LIMIT_ADDRESS_ATTEMPTS = 3
    url = reverse("accounts:login")

    statuses = []
    for student in StudentFactory.create_batch(5):
        statuses.append(
            client.post(url, {"email": student.email, "password": PASSWORD}).status_code
        )
        client.logout()

    assert statuses == [302] * 5


def test_class_join_is_rate_limited_per_student_with_retry_after(client, settings):
    settings.RATE_LIMIT_ACCOUNT_ATTEMPTS = 2
    client.force_login(StudentFactory())
    url = reverse("accounts:classroom_join")

    responses = [client.post(url, {"code": f"WRONG{n:03d}"}) for n in range(3)]

    assert [r.status_code for r in responses] == [400, 400, 429]
    assert int(responses[-1]["Retry-After"]) > 0
    assert not Membership.objects.exists()


def test_admin_login_is_the_rate_limited_app_login(client, settings):
    # given: a site superuser, and the admin's own login form
    settings.RATE_LIMIT_ACCOUNT_ATTEMPTS = 2
    admin = User.objects.create_superuser(
        username="root@example.org", email="root@example.org", password=PASSWORD
    )
    admin_login = reverse("admin:login")
    # when: credentials are posted to the admin's login page
    posted = client.post(admin_login, {"username": admin.email, "password": PASSWORD})
    # then: it logs nobody in; it sends to the app's login page, which comes back here
    assert posted.status_code == 302
    assert "_auth_user_id" not in client.session
    page = client.get(admin_login)
    login_url = f"{reverse('accounts:login')}?next=%2Fadmin%2F"
    assert page["Location"] == login_url
    for _ in range(2):
        client.post(login_url, {"email": admin.email, "password": "wrong"})
    assert client.post(login_url, {"email": admin.email, "password": PASSWORD}).status_code == 429
    cache.clear()
    response = client.post(login_url, {"email": admin.email, "password": PASSWORD})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_login_does_not_redirect_to_another_site(client):
    student = StudentFactory()
    url = f"{reverse('accounts:login')}?next=https://evil.example/"

    response = client.post(url, {"email": student.email, "password": PASSWORD})

    assert response["Location"] == reverse("accounts:dashboard")


def test_login_with_email_any_case_and_language_from_profile(client):
    teacher = TeacherFactory(email="Case@Example.org", preferred_language="fr")

    response = client.post(
        reverse("accounts:login"), {"email": "case@example.org", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response.cookies["django_language"].value == "fr"
    page = client.get(reverse("accounts:dashboard")).content.decode()
    assert "Mes classes" in page
    assert teacher.display_name in page


def test_language_switch_saves_preference_and_arabic_is_rtl(client):
    student = StudentFactory()
    client.force_login(student)

    response = client.post(reverse("set_language"), {"language": "ar", "next": "/"})

    student.refresh_from_db()
    assert response.status_code == 302
    assert student.preferred_language == "ar"
    page = client.get(reverse("accounts:dashboard")).content.decode()
    assert '<html lang="ar" dir="rtl">' in page
    assert "صفوفي" in page


def test_anonymous_language_switch_uses_cookie(client):
    client.post(reverse("set_language"), {"language": "es", "next": "/"})

    page = client.get(reverse("home")).content.decode()

    assert '<html lang="es" dir="ltr">' in page
    assert "Crear una cuenta" in page


def test_health_reports_ok(client):
    response = client.get(reverse("health"))
    assert response.json() == {"status": "ok"}


def test_pages_carry_a_script_restricting_content_security_policy(client):
    policy = client.get(reverse("home"))["Content-Security-Policy"]

    assert "script-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
