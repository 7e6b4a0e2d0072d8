"""Logs and error reports without personal data (settings.LOGGING,
settings.DEFAULT_EXCEPTION_REPORTER_FILTER).

Log lines name records by id. An e-mail address that slips into one anyway (an
exception from a unique constraint, a message formatted with a user) is masked before
any handler writes it: the message, its arguments and the traceback text.
"""

import logging
import re

from django.conf import settings
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
MASK = "[email]"


def mask_personal_data(text: str) -> str:
    return EMAIL.sub(MASK, text)


class MaskPersonalDataFilter(logging.Filter):
    """Masks e-mail addresses in a record's message and traceback; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a badly formatted call: keep its template
            message = str(record.msg)
        record.msg = mask_personal_data(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal_data(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal_data(record.stack_info)
        return True


class NoPersonalDataReporterFilter(SafeExceptionReporterFilter):
    """Error reports (mails to ADMINS, the DEBUG page) with every POST value replaced,
    not only those named sensitive: answers, messages and names are personal data. With
    DEBUG on (a developer's machine) reports stay complete."""

    def get_post_parameters(self, request):
        if request is None or not self.is_active(request):
            return super().get_post_parameters(request)
        cleansed = request.POST.copy()
        for key in cleansed:
            cleansed[key] = self.cleansed_substitute
        return cleansed

    def get_safe_cookies(self, request):
        if not self.is_active(request):
            return super().get_safe_cookies(request)
        return dict.fromkeys(request.COOKIES, self.cleansed_substitute)


class NoPersonalDataExceptionReporter(ExceptionReporter):
    """Names the user by id in error reports, not by str() (their name or e-mail)."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        if not settings.DEBUG and "user_str" in data:
            user = getattr(self.request, "user", None)
            data["user_str"] = f"user {getattr(user, 'pk', None)}" if user else None
        return data
