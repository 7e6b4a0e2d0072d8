"""Logs and error reports carry no personal data by default."""

import logging

from django.test import RequestFactory, override_settings
from django.views.debug import get_exception_reporter_class, get_exception_reporter_filter

from privacy.logging import MaskPersonalDataFilter


def _format(record: logging.LogRecord) -> str:
    MaskPersonalDataFilter().filter(record)
    return logging.Formatter("%(message)s").format(record)


def test_email_addresses_are_masked_in_messages_arguments_and_tracebacks():
    try:
        raise ValueError("duplicate key (email)=(Zelda.Q+tag@school.example.org)")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "sign-up of %s failed", ("a.b@example.com",), exc_info
    )
    text = _format(record)
    assert "sign-up of [email] failed" in text
    assert "@" not in text
    assert "(email)=([email])" in text


def test_the_configured_handlers_mask(settings):
    config = settings.LOGGING
    assert "mask_personal_data" in config["handlers"]["console"]["filters"]
    assert "mask_personal_data" in config["handlers"]["mail_admins"]["filters"]
    handler = logging.getLogger().handlers[0]
    assert any(isinstance(f, MaskPersonalDataFilter) for f in handler.filters)


@override_settings(DEBUG=False)
def test_error_reports_leave_out_post_data_cookies_and_the_users_name(db):
    from tests.factories import StudentFactory

    request = RequestFactory().post(
        "/learn/answer/", {"answer": "my name is Zelda", "email": "z@example.org"}
    )
    request.COOKIES["sessionid"] = "abc123"
    request.user = StudentFactory(display_name="Zelda Quintessa", email="zq@example.org")
    reporter_filter = get_exception_reporter_filter(request)
    post = reporter_filter.get_post_parameters(request)
    assert set(post.values()) == {reporter_filter.cleansed_substitute}
    assert reporter_filter.get_safe_cookies(request) == {
        "sessionid": reporter_filter.cleansed_substitute
    }
    reporter = get_exception_reporter_class(request)(request, ValueError, ValueError("x"), None)
    text = reporter.get_traceback_text()
    for leak in ("Zelda", "zq@example.org", "z@example.org", "abc123"):
        assert leak not in text
    assert f"user {request.user.pk}" in text
