"""Two-factor sign-in (TOTP + backup codes) for teachers and admins: set-up, the two-step
log-in, throttling and rate limits, turning it off."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from privacy.models import AuditAction, AuditEvent
from tests.factories import PASSWORD, StudentFactory, TeacherFactory

pytestmark = pytest.mark.django_db

SECURITY = reverse("accounts:two_factor")
LOGIN = reverse("accounts:login")
VERIFY = reverse("accounts:login_verify")


def _code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = timezone.now().timestamp() + steps_ahead * device.step
    return f"{totp.token():06d}"


def _enable(client: Client, teacher) -> list[str]:
    client.force_login(teacher)
    client.get(SECURITY)
    device = TOTPDevice.objects.get(user=teacher, confirmed=False)
    response = client.post(SECURITY, {"action": "enable", "code": _code(device)})
    assert response.status_code == 200
    client.logout()
    return list(response.context["backup_codes"])


def _unthrottle(user) -> None:
    """Skip the wait django-otp imposes after a wrong code (1 s after the first)."""
    for model in (TOTPDevice, StaticDevice):
        model.objects.filter(user=user).update(throttling_failure_timestamp=None)


def _logged_in_user_id(client: Client):
    return client.session.get("_auth_user_id")


def test_teacher_turns_two_factor_on_with_a_code_from_the_app(client):
    teacher = TeacherFactory()
    client.force_login(teacher)

    page = client.get(SECURITY)
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    html = page.content.decode()
    assert "<svg" in html
    device = TOTPDevice.objects.get(user=teacher)
    secret = page.context["enrolment"].secret
    assert secret in html
    assert not device.confirmed
    assert "secret=" in device.config_url
    assert "issuer=Exocortex" in device.config_url

    wrong = client.post(SECURITY, {"action": "enable", "code": "000000"})
    assert wrong.status_code == 400
    assert "not right" in wrong.content.decode()
    assert not two_factor.two_factor_enabled(user=teacher)
    assert not AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_ENABLED).exists()

    _unthrottle(teacher)
    device.refresh_from_db()
    right = client.post(SECURITY, {"action": "enable", "code": _code(device)})
    assert right.status_code == 200
    codes = right.context["backup_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(code in right.content.decode() for code in codes)
    assert two_factor.two_factor_enabled(user=teacher)
    assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_ENABLED, actor=teacher).exists()


def test_the_same_secret_is_shown_until_confirmed(client):
    teacher = TeacherFactory()
    client.force_login(teacher)

    first = client.get(SECURITY).context["enrolment"].secret
    second = client.get(SECURITY).context["enrolment"].secret

    assert first == second
    assert TOTPDevice.objects.filter(user=teacher).count() == 1


def test_students_cannot_open_the_two_factor_page(client):
    client.force_login(StudentFactory())

    assert client.get(SECURITY).status_code == 403
    assert not TOTPDevice.objects.exists()


def test_login_asks_for_the_code_after_the_password(client):
    teacher = TeacherFactory()
    _enable(client, teacher)
    device = TOTPDevice.objects.get(user=teacher)
    dashboard = reverse("accounts:dashboard")

    step_one = client.post(
        f"{LOGIN}?next={dashboard}", {"email": teacher.email, "password": PASSWORD}
    )
    assert step_one.status_code == 302
    assert step_one["Location"] == f"{VERIFY}?next=%2Faccounts%2Fdashboard%2F"
    assert _logged_in_user_id(client) is None
    assert client.get(dashboard).status_code == 302  # still not signed in

    wrong = client.post(VERIFY, {"code": "123456"})
    assert wrong.status_code == 400
    assert _logged_in_user_id(client) is None

    _unthrottle(teacher)
    device.refresh_from_db()
    right = client.post(f"{VERIFY}?next={dashboard}", {"code": _code(device, steps_ahead=1)})
    assert right.status_code == 302
    assert right["Location"] == dashboard
    assert _logged_in_user_id(client) == str(teacher.pk)
    assert two_factor.PENDING_SESSION_KEY not in client.session
    assert client.get(dashboard).status_code == 200
    login_event = AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=teacher).get()
    assert login_event.metadata == {"two_factor": 1}


def test_a_code_is_accepted_only_once(client):
    teacher = TeacherFactory()
    _enable(client, teacher)
    device = TOTPDevice.objects.get(user=teacher)
    # The code of the next time step: the set-up used the current one.
    code = _code(device, steps_ahead=1)

    client.post(LOGIN, {"email": teacher.email, "password": PASSWORD})
    assert client.post(VERIFY, {"code": code}).status_code == 302
    client.logout()

    other = Client()
    other.post(LOGIN, {"email": teacher.email, "password": PASSWORD})
    replay = other.post(VERIFY, {"code": code})
    assert replay.status_code == 400
    assert _logged_in_user_id(other) is None


def test_a_backup_code_signs_in_once(client):
    teacher = TeacherFactory()
    codes = _enable(client, teacher)

    client.post(LOGIN, {"email": teacher.email, "password": PASSWORD})
    assert client.post(VERIFY, {"code": codes[0].upper()}).status_code == 302
    assert StaticToken.objects.filter(device__user=teacher).count() == 9
    client.logout()

    client.post(LOGIN, {"email": teacher.email, "password": PASSWORD})
    assert client.post(VERIFY, {"code": codes[0]}).status_code == 400
    assert _logged_in_user_id(client) is None


def test_the_code_step_expires(client, settings):
    teacher = TeacherFactory()
    _enable(client, teacher)
    device = TOTPDevice.objects.get(user=teacher)
    client.post(LOGIN, {"email": teacher.email, "password": PASSWORD})
    session = client.session
    pending = session[two_factor.PENDING_SESSION_KEY]
    pending["at"] -= settings.TWO_FACTOR_PENDING_SECONDS + 1
    session[two_factor.PENDING_SESSION_KEY] = pending
    session.save()

    response = client.post(VERIFY, {"code": _code(device, steps_ahead=1)})

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert _logged_in_user_id(client) is None


def test_the_code_page_without_a_password_sends_to_login(client):
    response = client.get(VERIFY)

    assert response.status_code == 302
    assert response["Location"] == LOGIN


def test_wrong_codes_are_throttled_then_rate_limited(client, settings):
    settings.RATE_LIMIT_ACCOUNT_ATTEMPTS = 3
    teacher = TeacherFactory()
    _enable(client, teacher)
    device = TOTPDevice.objects.get(user=teacher)
    client.post(LOGIN, {"email": teacher.email, "password": PASSWORD})

    first = client.post(VERIFY, {"code": "111111"})
    assert first.status_code == 400
    # Right away, even the right code waits: django-otp's throttle after a failure.
    throttled = client.post(VERIFY, {"code": _code(device, steps_ahead=1)})
    assert throttled.status_code == 400
    assert re.search(r"Wait \d+ seconds", throttled.content.decode())

    _unthrottle(teacher)
    client.post(VERIFY, {"code": "222222"})
    _unthrottle(teacher)
    limited = client.post(VERIFY, {"code": "333333"})
    assert limited.status_code == 429
    assert "Retry-After" in limited
    assert _logged_in_user_id(client) is None


def test_turning_it_off_needs_a_code_and_restores_one_step_login(client):
    teacher = TeacherFactory()
    codes = _enable(client, teacher)
    client.force_login(teacher)

    refused = client.post(SECURITY, {"action": "disable", "code": "nonsense"})
    assert refused.status_code == 400
    assert two_factor.two_factor_enabled(user=teacher)

    _unthrottle(teacher)
    done = client.post(SECURITY, {"action": "disable", "code": codes[1]})
    assert done.status_code == 302
    assert not two_factor.two_factor_enabled(user=teacher)
    assert not StaticToken.objects.filter(device__user=teacher).exists()
    assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_DISABLED).count() == 1
    client.logout()

    login = client.post(LOGIN, {"email": teacher.email, "password": PASSWORD})
    assert login["Location"] == reverse("accounts:dashboard")
    assert _logged_in_user_id(client) == str(teacher.pk)


def test_new_backup_codes_replace_the_old_ones(client):
    teacher = TeacherFactory()
    old = _enable(client, teacher)
    client.force_login(teacher)

    response = client.post(SECURITY, {"action": "renew", "code": old[0]})

    assert response.status_code == 200
    new = response.context["backup_codes"]
    assert len(new) == 10
    assert not set(new) & set(old)
    stored = set(StaticToken.objects.filter(device__user=teacher).values_list("token", flat=True))
    assert stored == set(new)


def test_login_without_two_factor_is_one_step(client):
    teacher = TeacherFactory()

    response = client.post(LOGIN, {"email": teacher.email, "password": PASSWORD})

    assert response.status_code == 302
    assert _logged_in_user_id(client) == str(teacher.pk)


def test_a_site_admin_can_remove_a_lost_device_but_never_sees_its_key(client):
    teacher = TeacherFactory()
    _enable(client, teacher)
    device = TOTPDevice.objects.get(user=teacher)
    superuser = TeacherFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)

    page = client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert page.status_code == 200
    assert device.key not in page.content.decode()
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code != 200

    client.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"})

    assert not two_factor.two_factor_enabled(user=teacher)
