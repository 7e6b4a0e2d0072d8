"""Account pages. Each view parses input, calls one service, renders the result."""

from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from accounts import selectors, services, two_factor
from accounts.forms import (
    ClassroomCreateForm,
    ClassroomJoinForm,
    LoginForm,
    SignupForm,
    TwoFactorCodeForm,
)
from common.errors import ApplicationError
from common.forms import form_add_error
from common.ratelimit import client_address, ratelimit_give_back, ratelimit_hit
from privacy.models import AuditAction
from privacy.services import audit_record


@dataclass(frozen=True)
class _Outcome:
    """What _submit() got: the action's result, or the status to answer with (the error
    is on the form) and, when rate-limited, the seconds to wait."""

    result: Any = None
    status: int = 200
    retry_after: int | None = None

    def respond(self, response: HttpResponse) -> HttpResponse:
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        return response


def _auth_ratelimit(request: HttpRequest, scope: str, account: str) -> list[str]:
    """Count one attempt against the client address and, when known, the account;
    ApplicationError past either limit. Returns the counters hit."""
    window = settings.RATE_LIMIT_WINDOW_SECONDS
    counters = [
        ratelimit_hit(
            scope=f"{scope}:address",
            key=client_address(request),
            limit=settings.RATE_LIMIT_ADDRESS_ATTEMPTS,
            window_seconds=window,
        )
    ]
    if account:
        counters.append(
            ratelimit_hit(
                scope=f"{scope}:account",
                key=account,
                limit=settings.RATE_LIMIT_ACCOUNT_ATTEMPTS,
                window_seconds=window,
            )
        )
    return counters


def _submit(
    request: HttpRequest,
    form,
    action,
    *,
    ratelimit_scope: str = "",
    account: str = "",
    count_success: bool = True,
) -> _Outcome:
    """Validate `form` and call `action(**form.cleaned_data)`.

    With `ratelimit_scope`, the attempt first counts against the client address and
    `account` (see settings.RATE_LIMIT_*); with count_success=False a successful one is
    given back, so that only failures use the limits up. On failure the error is on its
    field (or the form) and the outcome's status is 400, or 429 when rate-limited.
    """
    counters: list[str] = []
    try:
        if ratelimit_scope:
            counters = _auth_ratelimit(request, ratelimit_scope, account)
        if not form.is_valid():
            return _Outcome(status=400)
        result = action(**form.cleaned_data)
    except ApplicationError as exc:
        status = form_add_error(form, exc)
        return _Outcome(status=status, retry_after=exc.extra.get("retry_after"))
    if not count_success:
        for counter in counters:
            ratelimit_give_back(counter)
    return _Outcome(result=result)


def _set_language_cookie(response: HttpResponse, language: str) -> HttpResponse:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    form = SignupForm(
        request.POST or None,
        initial={"preferred_language": getattr(request, "LANGUAGE_CODE", "en")},
    )
    outcome = _Outcome()
    if request.method == "POST":
        outcome = _submit(request, form, services.user_signup, ratelimit_scope="signup")
        user = outcome.result
        if user is not None:
            login(request, user, backend="accounts.backends.EmailBackend")
            messages.success(request, _("Welcome to Exocortex!"))
            return _set_language_cookie(redirect("accounts:dashboard"), user.preferred_language)
    return outcome.respond(
        render(request, "accounts/signup.html", {"form": form}, status=outcome.status)
    )


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    form = LoginForm(request.POST or None)
    outcome = _Outcome()
    if request.method == "POST":
        outcome = _submit(
            request,
            form,
            lambda email, password: services.user_authenticate(
                request=request, email=email, password=password
            ),
            ratelimit_scope="login",
            account=request.POST.get("email", "").strip().lower(),
            count_success=False,
        )
        user = outcome.result
        if user is not None and two_factor.two_factor_enabled(user=user):
            two_factor.login_pending_set(request=request, user=user)
            return redirect(_keep_next(request, reverse("accounts:login_verify")))
        if user is not None:
            login(request, user)
            audit_record(action=AuditAction.LOGIN, actor=user)
            return _set_language_cookie(redirect(_next_url(request)), user.preferred_language)
    return outcome.respond(
        render(request, "accounts/login.html", {"form": form}, status=outcome.status)
    )


@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in, for people with two-factor sign-in on."""
    user = two_factor.login_pending_get(request=request)
    if user is None:
        messages.info(request, _("Please log in again."))
        return redirect(_keep_next(request, reverse("accounts:login")))
    form = TwoFactorCodeForm(request.POST or None)
    outcome = _Outcome()
    if request.method == "POST":
        outcome = _submit(
            request,
            form,
            partial(two_factor.login_code_verify, user=user),
            ratelimit_scope="two_factor",
            account=f"user:{user.pk}",
            count_success=False,
        )
        device = outcome.result
        if device is not None:
            request.session.pop(two_factor.PENDING_SESSION_KEY, None)
            login(request, user, backend="accounts.backends.EmailBackend")
            otp_login(request, device)
            audit_record(action=AuditAction.LOGIN, actor=user, metadata={"two_factor": 1})
            return _set_language_cookie(redirect(_next_url(request)), user.preferred_language)
    return outcome.respond(
        render(request, "accounts/login_verify.html", {"form": form}, status=outcome.status)
    )


def _keep_next(request: HttpRequest, url: str) -> str:
    """`url` with this request's ?next= carried over (checked again where it is used)."""
    next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
    return f"{url}?{urlencode({REDIRECT_FIELD_NAME: next_url})}" if next_url else url


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_settings(request: HttpRequest) -> HttpResponse:
    """Turn two-factor sign-in on (scan, confirm, get backup codes) or off; renew backup
    codes. Teachers, school admins and superusers only."""
    user = request.user
    if not two_factor.two_factor_allowed(user=user):
        raise PermissionDenied
    action = request.POST.get("action", "") if request.method == "POST" else ""
    actions = {
        "enable": two_factor.two_factor_enable,
        "disable": two_factor.two_factor_disable,
        "renew": two_factor.two_factor_backup_codes_renew,
    }
    form = TwoFactorCodeForm(request.POST or None)
    outcome = _Outcome()
    backup_codes = None
    if action in actions:
        outcome = _submit(
            request,
            form,
            partial(actions[action], user=user),
            ratelimit_scope="two_factor",
            account=f"user:{user.pk}",
            count_success=False,
        )
        if outcome.status == 200 and action == "disable":
            messages.success(request, _("Two-factor sign-in is off."))
            return redirect("accounts:two_factor")
        backup_codes = outcome.result
        if backup_codes is not None and action == "enable":
            messages.success(request, _("Two-factor sign-in is on."))
    elif request.method == "POST":
        return HttpResponse(status=400)
    enabled = two_factor.two_factor_enabled(user=user)
    context = {
        "form": form if outcome.status != 200 else TwoFactorCodeForm(),
        "failed_action": action if outcome.status != 200 else "",
        "enabled": enabled,
        "enrolment": None if enabled else two_factor.two_factor_enrolment_get(user=user),
        "backup_codes": backup_codes,
        "backup_codes_left": two_factor.two_factor_backup_codes_count(user=user),
    }
    response = render(request, "accounts/two_factor.html", context, status=outcome.status)
    # The page may show the secret or backup codes: never keep it in a cache.
    response["Cache-Control"] = "no-store"
    return outcome.respond(response)


def _next_url(request: HttpRequest) -> str:
    """Where ?next= asks to go after logging in, when it is a page of this site."""
    next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return reverse("accounts:dashboard")


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin site's login page: the app's own, under the same rate limits."""
    next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
    query = urlencode({REDIRECT_FIELD_NAME: next_url})
    return redirect(f"{reverse('accounts:login')}?{query}")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("home")


def _render_dashboard(request: HttpRequest, *, form=None, status: int = 200) -> HttpResponse:
    """The class list with the create form (staff) or join form (students); `form` is a
    bound form to show again with its errors."""
    user = request.user
    form_class = ClassroomCreateForm if user.is_staff_member else ClassroomJoinForm
    if not isinstance(form, form_class):
        # e.g. a student posting the create form: keep its message, show the right form.
        for error in form.non_field_errors() if form is not None else ():
            messages.error(request, error)
        form = form_class()
    if user.is_staff_member:
        forms = {"create_form": form, "join_form": None}
    else:
        forms = {"create_form": None, "join_form": form}
    context = {"classrooms": selectors.classrooms_visible_to(user=user), **forms}
    return render(request, "accounts/dashboard.html", context, status=status)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return _render_dashboard(request)


@login_required
@require_POST
def classroom_create(request: HttpRequest) -> HttpResponse:
    form = ClassroomCreateForm(request.POST)
    outcome = _submit(request, form, partial(services.classroom_create, teacher=request.user))
    if outcome.result is not None:
        messages.success(request, _("Class created. Share its code with your students."))
        return redirect("accounts:classroom_detail", classroom_id=outcome.result.id)
    return _render_dashboard(request, form=form, status=outcome.status)


@login_required
@require_POST
def classroom_join(request: HttpRequest) -> HttpResponse:
    form = ClassroomJoinForm(request.POST)
    outcome = _submit(
        request,
        form,
        partial(services.classroom_join, student=request.user),
        ratelimit_scope="join",
        account=f"user:{request.user.pk}",
        count_success=False,
    )
    classroom = outcome.result
    if classroom is not None:
        messages.success(request, _("You joined %(name)s.") % {"name": classroom.name})
        return redirect("accounts:classroom_detail", classroom_id=classroom.id)
    return outcome.respond(_render_dashboard(request, form=form, status=outcome.status))


@login_required
def classroom_detail(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = selectors.classroom_get_for_user(user=request.user, classroom_id=classroom_id)
    context = {
        "classroom": classroom,
        "students": selectors.classroom_students(classroom=classroom)
        if request.user.is_staff_member
        else None,
    }
    return render(request, "accounts/classroom_detail.html", context)


@login_required
@require_POST
def classroom_code_regenerate(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = selectors.classroom_get_for_manager(user=request.user, classroom_id=classroom_id)
    services.classroom_code_regenerate(classroom=classroom)
    messages.success(request, _("New class code created."))
    return redirect("accounts:classroom_detail", classroom_id=classroom.id)


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """Django's set_language, plus saving the choice on the profile of a logged-in user."""
    from django.views.i18n import set_language

    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        services.user_set_language(user=request.user, language=language)
    return set_language(request)
