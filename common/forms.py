"""Showing a service's ApplicationError on the form that caused it."""

from django import forms

from common.errors import ApplicationError


def form_add_error(form: forms.BaseForm, exc: ApplicationError) -> int:
    """Attach `exc` to its field (or to the form), plus any further located problems in
    `exc.extra["problems"]` ([field path, message] pairs); return the HTTP status to
    answer: 429 when the error is a rate limit, else 400."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    for problem_field, message in exc.extra.get("problems", [])[1:]:
        name = problem_field.split(".")[0]
        form.add_error(name if name in form.fields else None, message)
    return 429 if "retry_after" in exc.extra else 400
