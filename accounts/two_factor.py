"""Optional two-factor sign-in (TOTP) for teachers and school admins.

django-otp keeps the devices: one TOTP device per person (an authenticator app) and one
static device holding single-use backup codes for a lost phone. A person with a confirmed
TOTP device signs in in two steps: the password (accounts.views.login_view), then a code
(accounts.views.login_verify). Between the two, only the person's id and the time the
password was right sit in the anonymous session; nothing is logged in until the code is.

Sign-ins through the school's identity provider (SSO) or its LMS (LTI) rely on that
system's own second factor and do not ask for a code here (docs/admin.md).
"""

import base64
import math
import time
from dataclasses import dataclass

import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from common.errors import ApplicationError
from privacy.models import AuditAction
from privacy.services import audit_record

PENDING_SESSION_KEY = "two_factor_pending"
_TOTP_NAME = "authenticator"
_BACKUP_NAME = "backup codes"


def two_factor_allowed(*, user: User) -> bool:
    """Who may turn two-factor sign-in on: teachers, school admins and site superusers."""
    return user.is_staff_member or user.is_superuser


def two_factor_enabled(*, user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@dataclass(frozen=True)
class Enrolment:
    """What the set-up page shows: the secret as a QR code and as text to type."""

    device: TOTPDevice
    qr_svg: str
    secret: str


def _enrolment(device: TOTPDevice) -> Enrolment:
    qr = segno.make(device.config_url, error="m")
    return Enrolment(
        device=device,
        qr_svg=qr.svg_inline(scale=4, dark="#111", light="#fff"),
        secret=base64.b32encode(device.bin_key).decode("ascii").rstrip("="),
    )


def two_factor_enrolment_get(*, user: User) -> Enrolment:
    """The unconfirmed device being set up (created on first call), to be confirmed with
    a code from the app. The caller checked two_factor_allowed() and that it is not on."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_TOTP_NAME, confirmed=False)
    return _enrolment(device)


# Codes are checked before any transaction starts: a wrong code's throttling (django-otp
# counts failures on the device) must be saved, not rolled back with the change.


def _clean_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def two_factor_enable(*, user: User, code: str) -> list[str]:
    """Confirm the device being set up with a code from the app; returns new backup codes
    (shown once). ApplicationError when the code is wrong."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        raise ApplicationError(_("Start the set-up again: no authenticator is waiting."))
    if not device.verify_token(_clean_code(code)):
        raise ApplicationError(
            _("That code is not right. Type the six digits the app shows."), field="code"
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(action=AuditAction.TWO_FACTOR_ENABLED, actor=user, subject=user)
        return _backup_codes_replace(user)


def _backup_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=_BACKUP_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.TWO_FACTOR_BACKUP_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def two_factor_backup_codes_count(*, user: User) -> int:
    return StaticToken.objects.filter(device__user=user).count()


def _throttle_wait_seconds(device: TOTPDevice | StaticDevice) -> int:
    """Seconds until a throttled device takes codes again (django-otp's rule: the factor
    times 2 ** (failures - 1) since the last failure)."""
    required = device.get_throttle_factor() * 2 ** (device.throttling_failure_count - 1)
    elapsed = (timezone.now() - device.throttling_failure_timestamp).total_seconds()
    return max(1, math.ceil(required - elapsed))


def _verified_device(user: User, code: str) -> TOTPDevice | StaticDevice | None:
    """The device that accepts `code`: the app's, else a backup code (used up).
    ApplicationError while a device is throttled after wrong codes (django-otp
    doubles the wait after each one), so that the message says to wait."""
    code = _clean_code(code)
    if not code:
        return None
    totp_devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    static_devices = list(StaticDevice.objects.filter(user=user, confirmed=True))
    waits = [
        _throttle_wait_seconds(device)
        for device in (*totp_devices, *static_devices)
        if not device.verify_is_allowed()[0]
    ]
    if waits:
        raise ApplicationError(
            _("Too many wrong codes. Wait %(seconds)d seconds, then try again.")
            % {"seconds": max(waits)},
            field="code",
        )
    for device in totp_devices:
        if code.isdigit() and device.verify_token(code):
            return device
    for device in static_devices:
        if device.verify_token(code):
            return device
    return None


def two_factor_backup_codes_renew(*, user: User, code: str) -> list[str]:
    """New backup codes (the old ones stop working), after a current code."""
    if _verified_device(user, code) is None:
        raise ApplicationError(_("That code is not right."), field="code")
    with transaction.atomic():
        return _backup_codes_replace(user)


def two_factor_disable(*, user: User, code: str) -> None:
    """Turn two-factor sign-in off, after a current code (app or backup)."""
    if _verified_device(user, code) is None:
        raise ApplicationError(_("That code is not right."), field="code")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit_record(action=AuditAction.TWO_FACTOR_DISABLED, actor=user, subject=user)


# --- the second step of signing in ------------------------------------------------------


def login_pending_set(*, request: HttpRequest, user: User) -> None:
    """Remember that `user` typed the right password; the code comes next."""
    request.session[PENDING_SESSION_KEY] = {"user_id": user.pk, "at": time.time()}


def login_pending_get(*, request: HttpRequest) -> User | None:
    """The person whose password was right within TWO_FACTOR_PENDING_SECONDS, else None
    (and the stale entry is dropped)."""
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > settings.TWO_FACTOR_PENDING_SECONDS:
        request.session.pop(PENDING_SESSION_KEY, None)
        return None
    user = User.objects.filter(pk=pending.get("user_id"), is_active=True).first()
    if user is None or not two_factor_enabled(user=user):
        request.session.pop(PENDING_SESSION_KEY, None)
        return None
    return user


def login_code_verify(*, user: User, code: str) -> TOTPDevice | StaticDevice:
    """The device that accepts the code typed at sign-in; ApplicationError otherwise.
    Devices throttle themselves after failures (django-otp), on top of the view's limit."""
    device = _verified_device(user, code)
    if device is None:
        raise ApplicationError(
            _("That code is not right. Try the newest code in your app."), field="code"
        )
    return device
