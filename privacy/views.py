"""Data-rights pages: a student's "My data", and the school admin's students, retention
settings and audit log. Each view checks access, calls one service, renders the result.
Nothing here changes or deletes an audit event."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role, User
from common.errors import ApplicationError
from common.forms import form_add_error
from common.ratelimit import ratelimit_hit
from privacy import selectors, services
from privacy.forms import AuditFilterForm, RetentionForm
from privacy.selectors import AuditFilter

AUDIT_PAGE_SIZE = 100


def _student_self(request: HttpRequest) -> User:
    if request.user.role != Role.STUDENT:
        raise Http404("No such page.")
    return request.user


def _export(request: HttpRequest, student: User, back: HttpResponse) -> HttpResponse:
    """The archive as a download, or `back` with a message when over the rate limit."""
    try:
        ratelimit_hit(
            scope="privacy-export",
            key=str(request.user.pk),
            limit=settings.PRIVACY_EXPORT_RATE_LIMIT,
            window_seconds=settings.PRIVACY_EXPORT_RATE_WINDOW_SECONDS,
        )
    except ApplicationError as exc:
        messages.error(request, _("Too many exports. Please try again later."))
        back["Retry-After"] = str(exc.extra["retry_after"])
        return back
    archive, filename = services.personal_data_export(student=student, by=request.user)
    response = FileResponse(
        archive, as_attachment=True, filename=filename, content_type="application/zip"
    )
    response["Cache-Control"] = "no-store"
    return response


def _act(request: HttpRequest, action, success: str) -> None:
    try:
        action()
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)


# --- the student's own data --------------------------------------------------------------


@login_required
@require_GET
def my_data(request: HttpRequest) -> HttpResponse:
    student = _student_self(request)
    context = {
        "deletion": services.deletion_request_open(student=student),
        "cool_off_days": settings.PRIVACY_DELETION_COOL_OFF_DAYS,
    }
    return render(request, "privacy/my_data.html", context)


@login_required
@require_POST
def my_data_export(request: HttpRequest) -> HttpResponse:
    student = _student_self(request)
    return _export(request, student, redirect("privacy:my_data"))


@login_required
@require_POST
def my_data_delete(request: HttpRequest) -> HttpResponse:
    student = _student_self(request)
    _act(
        request,
        lambda: services.deletion_request(student=student, by=request.user),
        _("Your account will be deleted unless you cancel before the date shown."),
    )
    return redirect("privacy:my_data")


@login_required
@require_POST
def my_data_delete_cancel(request: HttpRequest) -> HttpResponse:
    student = _student_self(request)
    _act(
        request,
        lambda: services.deletion_cancel(student=student, by=request.user),
        _("Deletion cancelled. Your account stays."),
    )
    return redirect("privacy:my_data")


# --- the school admin's pages ------------------------------------------------------------


@login_required
@require_GET
def school_students(request: HttpRequest) -> HttpResponse:
    students = selectors.school_students(admin=request.user)
    context = {
        "students": students,
        "deletions": selectors.school_deletion_requests(admin=request.user),
        "cool_off_days": settings.PRIVACY_DELETION_COOL_OFF_DAYS,
    }
    return render(request, "privacy/school_students.html", context)


@login_required
@require_POST
def student_export(request: HttpRequest, student_id: int) -> HttpResponse:
    student = selectors.student_get_for_admin(admin=request.user, student_id=student_id)
    return _export(request, student, redirect("privacy:school_students"))


@login_required
@require_POST
def student_delete(request: HttpRequest, student_id: int) -> HttpResponse:
    student = selectors.student_get_for_admin(admin=request.user, student_id=student_id)
    _act(
        request,
        lambda: services.deletion_request(student=student, by=request.user),
        _("Deletion of %(name)s scheduled.") % {"name": student.display_name},
    )
    return redirect("privacy:school_students")


@login_required
@require_POST
def student_delete_cancel(request: HttpRequest, student_id: int) -> HttpResponse:
    student = selectors.student_get_for_admin(admin=request.user, student_id=student_id)
    _act(
        request,
        lambda: services.deletion_cancel(student=student, by=request.user),
        _("Deletion of %(name)s cancelled.") % {"name": student.display_name},
    )
    return redirect("privacy:school_students")


@login_required
@require_http_methods(["GET", "POST"])
def retention(request: HttpRequest) -> HttpResponse:
    selectors.admin_check(user=request.user)
    school = request.user.school
    policy = services.retention_policy_get(school=school)
    initial = {f"{kind}_days": getattr(policy, f"{kind}_days") for kind in policy.KINDS}
    form = RetentionForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.retention_policy_update(
                    school=school, by=request.user, days=form.cleaned_data
                )
            except ApplicationError as exc:
                status = form_add_error(form, exc)
            else:
                messages.success(request, _("Retention settings saved."))
                return redirect("privacy:retention")
        else:
            status = 400
    context = {"form": form, "defaults": settings.PRIVACY_RETENTION_DAYS}
    return render(request, "privacy/retention.html", context, status=status)


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    selectors.admin_check(user=request.user)
    form = AuditFilterForm(request.GET or None)
    filters = AuditFilter()
    if form.is_valid():
        data = form.cleaned_data
        filters = AuditFilter(
            action=data["action"],
            actor_id=data["actor"],
            subject_id=data["subject"],
            since=data["since"],
            until=data["until"],
        )
    events = selectors.audit_events(admin=request.user, filters=filters)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "privacy/audit_log.html", context)
