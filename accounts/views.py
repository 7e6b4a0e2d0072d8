"""Account pages. Each view parses input, calls one service, renders the result."""

from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import ClassroomCreateForm, ClassroomJoinForm, LoginForm, SignupForm
from common.errors import ApplicationError
from common.forms import form_add_error
from common.ratelimit import client_address, ratelimit_hit


def _auth_ratelimit(request: HttpRequest, scope: str) -> None:
    ratelimit_hit(
        scope=scope,
        key=client_address(request),
        limit=settings.RATE_LIMIT_AUTH_ATTEMPTS,
        window_seconds=settings.RATE_LIMIT_WINDOW_SECONDS,
    )


def _submit(request: HttpRequest, form, action, *, ratelimit_scope: str = ""):
    """Validate `form` and call `action(**form.cleaned_data)`.

    Returns (result, 200) on success, or (None, status) with the error attached to its
    field (or the form): 400 for bad input, 429 when rate-limited.
    """
    try:
        if ratelimit_scope:
            _auth_ratelimit(request, ratelimit_scope)
        if not form.is_valid():
            return None, 400
        return action(**form.cleaned_data), 200
    except ApplicationError as exc:
        return None, form_add_error(form, exc)


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
    status = 200
    if request.method == "POST":
        user, status = _submit(request, form, services.user_signup, ratelimit_scope="signup")
        if user is not None:
            login(request, user, backend="accounts.backends.EmailBackend")
            messages.success(request, _("Welcome to Exocortex!"))
            return _set_language_cookie(redirect("accounts:dashboard"), user.preferred_language)
    return render(request, "accounts/signup.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST":
        user, status = _submit(
            request,
            form,
            lambda email, password: services.user_authenticate(
                request=request, email=email, password=password
            ),
            ratelimit_scope="login",
        )
        if user is not None:
            login(request, user)
            return _set_language_cookie(redirect("accounts:dashboard"), user.preferred_language)
    return render(request, "accounts/login.html", {"form": form}, status=status)


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
    classroom, status = _submit(
        request, form, partial(services.classroom_create, teacher=request.user)
    )
    if classroom is not None:
        messages.success(request, _("Class created. Share its code with your students."))
        return redirect("accounts:classroom_detail", classroom_id=classroom.id)
    return _render_dashboard(request, form=form, status=status)


@login_required
@require_POST
def classroom_join(request: HttpRequest) -> HttpResponse:
    form = ClassroomJoinForm(request.POST)
    classroom, status = _submit(
        request,
        form,
        partial(services.classroom_join, student=request.user),
        ratelimit_scope="join",
    )
    if classroom is not None:
        messages.success(request, _("You joined %(name)s.") % {"name": classroom.name})
        return redirect("accounts:classroom_detail", classroom_id=classroom.id)
    return _render_dashboard(request, form=form, status=status)


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
