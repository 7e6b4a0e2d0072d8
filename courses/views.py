"""Course pages: authoring for a school's teachers, and course images. (The learner's
side of a course lives in learning.views.)

Each view looks the object up with a permission-checked selector, parses input with a
form, calls one service and renders the result.
"""

import mimetypes

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from common.errors import ApplicationError
from common.forms import form_add_error
from common.responses import user_file_response
from courses import packages, selectors, services
from courses.forms import (
    CourseCreateForm,
    CourseForm,
    ExerciseForm,
    LessonForm,
    PackageImportForm,
    SkillForm,
    TitleForm,
    TutorInstructionsForm,
)
from courses.i18n import LANGUAGE_CODES, field_name
from courses.models import CourseAsset, ExerciseKind
from courses.rendering import MAX_SOURCE_LENGTH, render_markdown


def _language(request: HttpRequest, course) -> str:
    language = request.GET.get("lang") or course.source_language
    return language if language in LANGUAGE_CODES else course.source_language


def _languages_context(course, language: str) -> dict:
    return {
        "edit_language": language,
        "edit_languages": [(code, name) for code, name in settings.LANGUAGES],
        "is_source_language": language == course.source_language,
    }


def _wire_preview(form, field: str, course, target: str) -> None:
    """Let frontend/src/math.ts preview this textarea through the rendering endpoint."""
    form.fields[field].widget.attrs.update(
        {
            "data-preview-url": reverse("courses:preview", kwargs={"course_id": course.id}),
            "data-preview-target": target,
        }
    )


def _texts(obj, language: str, *fields: str) -> dict:
    return {field: getattr(obj, field_name(field, language)) or "" for field in fields}


# --- course list ----------------------------------------------------------------------


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Editors see their school's courses and a create form; everyone sees the
    published courses of their school."""
    user = request.user
    form = CourseCreateForm(initial={"source_language": getattr(request, "LANGUAGE_CODE", "en")})
    context = {
        "editable": selectors.courses_for_editor(user=user),
        "published": selectors.courses_for_learner(user=user),
        "form": form if user.is_staff_member else None,
        "import_form": PackageImportForm(),
    }
    return render(request, "courses/index.html", context)


@login_required
@require_POST
def course_create(request: HttpRequest) -> HttpResponse:
    form = CourseCreateForm(request.POST)
    try:
        if form.is_valid():
            course = services.course_create(author=request.user, **form.cleaned_data)
            messages.success(request, _("Course created."))
            return redirect("courses:course_edit", course_id=course.id)
        status = 400
    except ApplicationError as exc:
        status = form_add_error(form, exc)
    context = {
        "editable": selectors.courses_for_editor(user=request.user),
        "published": selectors.courses_for_learner(user=request.user),
        "form": form,
        "import_form": PackageImportForm(),
    }
    return render(request, "courses/index.html", context, status=status)


@login_required
@require_POST
def course_import(request: HttpRequest) -> HttpResponse:
    """Create a course from an uploaded package; list every problem if it has any."""
    form = PackageImportForm(request.POST, request.FILES)
    problems: list[str] = []
    if form.is_valid():
        upload = form.cleaned_data["package"]
        try:
            if upload.size > packages.MAX_PACKAGE_BYTES:
                raise ApplicationError(
                    _("The file is larger than %(mb)d MB.")
                    % {"mb": packages.MAX_PACKAGE_BYTES // (1024 * 1024)},
                    field="package",
                )
            course = packages.course_import(author=request.user, data=upload.read())
            messages.success(request, _("Course imported."))
            return redirect("courses:course_edit", course_id=course.id)
        except ApplicationError as exc:
            form.add_error("package", exc.message)
            problems = exc.extra.get("problems", [])
    context = {
        "editable": selectors.courses_for_editor(user=request.user),
        "published": selectors.courses_for_learner(user=request.user),
        "form": CourseCreateForm() if request.user.is_staff_member else None,
        "import_form": form,
        "import_problems": problems,
    }
    return render(request, "courses/index.html", context, status=400)


@login_required
def course_export(request: HttpRequest, course_id: int) -> HttpResponse:
    course = selectors.course_get_for_editor(user=request.user, course_id=course_id)
    response = HttpResponse(packages.course_export(course=course), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="course-{course.id}.zip"'
    return response


# --- course editing -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def course_edit(request: HttpRequest, course_id: int) -> HttpResponse:
    course = selectors.course_get_for_editor(user=request.user, course_id=course_id)
    language = _language(request, course)
    initial = _texts(course, language, "title", "description")
    form = CourseForm(request.POST or None, initial=initial)
    form.fields["title"].required = language == course.source_language
    status = 200
    if request.method == "POST":
        try:
            if form.is_valid():
                services.course_update(course=course, language=language, **form.cleaned_data)
                messages.success(request, _("Saved."))
                return redirect(f"{request.path}?lang={language}")
            status = 400
        except ApplicationError as exc:
            status = form_add_error(form, exc)
    context = {
        "course": course,
        "form": form,
        "units": selectors.course_units_with_lessons(course=course),
        "skills": selectors.course_skills(course=course),
        "unit_form": TitleForm(prefix="unit"),
        "tutor_form": TutorInstructionsForm(
            initial={"tutor_instructions": course.tutor_instructions}
        ),
        "kinds": ExerciseKind.choices,
        **_languages_context(course, language),
    }
    return render(request, "courses/course_edit.html", context, status=status)


@login_required
@require_POST
def course_publish(request: HttpRequest, course_id: int) -> HttpResponse:
    course = selectors.course_get_for_editor(user=request.user, course_id=course_id)
    published = request.POST.get("published") == "1"
    services.course_set_published(course=course, published=published)
    messages.success(request, _("Course published.") if published else _("Course hidden."))
    return redirect("courses:course_edit", course_id=course.id)


@login_required
@require_POST
def course_tutor_instructions(request: HttpRequest, course_id: int) -> HttpResponse:
    course = selectors.course_get_for_editor(user=request.user, course_id=course_id)
    form = TutorInstructionsForm(request.POST)
    if form.is_valid():
        try:
            services.course_tutor_instructions_set(
                course=course, instructions=form.cleaned_data["tutor_instructions"]
            )
            messages.success(request, _("Tutor instructions saved."))
        except ApplicationError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, _("Keep the instructions under 2,000 characters."))
    return redirect("courses:course_edit", course_id=course.id)


@login_required
@require_POST
def unit_create(request: HttpRequest, course_id: int) -> HttpResponse:
    course = selectors.course_get_for_editor(user=request.user, course_id=course_id)
    form = TitleForm(request.POST, prefix="unit")
    try:
        if form.is_valid():
            services.unit_create(course=course, title=form.cleaned_data["title"])
            return redirect("courses:course_edit", course_id=course.id)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("courses:course_edit", course_id=course.id)
    messages.error(request, _("Give the unit a title."))
    return redirect("courses:course_edit", course_id=course.id)


def _simple_edit(request, *, obj, course, form, save, template_title, back_url):
    """GET/POST a one-form edit page; `save(language, cleaned_data)` calls the service."""
    language = _language(request, course)
    status = 200
    if request.method == "POST":
        try:
            if form.is_valid():
                save(language, form.cleaned_data)
                messages.success(request, _("Saved."))
                return redirect(f"{request.path}?lang={language}")
            status = 400
        except ApplicationError as exc:
            status = form_add_error(form, exc)
    context = {
        "course": course,
        "object": obj,
        "form": form,
        "page_title": template_title,
        "back_url": back_url,
        **_languages_context(course, language),
    }
    return render(request, "courses/form_page.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def unit_edit(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit = selectors.unit_get_for_editor(user=request.user, unit_id=unit_id)
    course = unit.course
    language = _language(request, course)
    form = TitleForm(request.POST or None, initial=_texts(unit, language, "title"))
    form.fields["title"].required = language == course.source_language
    return _simple_edit(
        request,
        obj=unit,
        course=course,
        form=form,
        save=lambda lang, data: services.unit_update(unit=unit, language=lang, **data),
        template_title=_("Edit unit"),
        back_url=course_edit_url(course),
    )


def course_edit_url(course) -> str:
    return reverse("courses:course_edit", kwargs={"course_id": course.id})


@login_required
@require_POST
def lesson_create(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit = selectors.unit_get_for_editor(user=request.user, unit_id=unit_id)
    title = request.POST.get("title", "")
    try:
        lesson = services.lesson_create(unit=unit, title=title)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("courses:course_edit", course_id=unit.course_id)
    return redirect("courses:lesson_edit", lesson_id=lesson.id)


@login_required
@require_http_methods(["GET", "POST"])
def lesson_edit(request: HttpRequest, lesson_id: int) -> HttpResponse:
    lesson = selectors.lesson_get_for_editor(user=request.user, lesson_id=lesson_id)
    course = lesson.unit.course
    language = _language(request, course)
    form = LessonForm(request.POST or None, initial=_texts(lesson, language, "title", "body"))
    form.fields["title"].required = language == course.source_language
    _wire_preview(form, "body", course, "#lesson-preview")
    status = 200
    if request.method == "POST":
        try:
            if form.is_valid():
                services.lesson_update(lesson=lesson, language=language, **form.cleaned_data)
                messages.success(request, _("Saved. Publish the lesson to show the changes."))
                return redirect(f"{request.path}?lang={language}")
            status = 400
        except ApplicationError as exc:
            status = form_add_error(form, exc)
    context = {
        "course": course,
        "lesson": lesson,
        "form": form,
        "exercises": selectors.lesson_exercises(lesson=lesson),
        "kinds": ExerciseKind.choices,
        **_languages_context(course, language),
    }
    return render(request, "courses/lesson_edit.html", context, status=status)


@login_required
@require_POST
def lesson_publish(request: HttpRequest, lesson_id: int) -> HttpResponse:
    lesson = selectors.lesson_get_for_editor(user=request.user, lesson_id=lesson_id)
    try:
        if request.POST.get("published") == "0":
            services.lesson_unpublish(lesson=lesson)
            messages.success(request, _("Lesson hidden from learners."))
        else:
            services.lesson_publish(lesson=lesson)
            messages.success(request, _("Lesson published."))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("courses:lesson_edit", lesson_id=lesson.id)


@login_required
@require_POST
def preview(request: HttpRequest, course_id: int) -> JsonResponse:
    """Render Markdown exactly as learners will see it (same pipeline, same assets)."""
    course = selectors.course_get_for_editor(user=request.user, course_id=course_id)
    source = request.POST.get("source", "")[:MAX_SOURCE_LENGTH]
    html = render_markdown(source, asset_base=selectors.asset_base(course.id))
    return JsonResponse({"html": html})


# --- skills ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def skill_create(request: HttpRequest, course_id: int) -> HttpResponse:
    course = selectors.course_get_for_editor(user=request.user, course_id=course_id)
    form = SkillForm(request.POST or None, course=course)
    return _simple_edit(
        request,
        obj=None,
        course=course,
        form=form,
        save=lambda _lang, data: services.skill_create(course=course, **data),
        template_title=_("New skill"),
        back_url=course_edit_url(course),
    )


@login_required
@require_http_methods(["GET", "POST"])
def skill_edit(request: HttpRequest, skill_id: int) -> HttpResponse:
    skill = selectors.skill_get_for_editor(user=request.user, skill_id=skill_id)
    course = skill.course
    language = _language(request, course)
    initial = {
        "code": skill.code,
        **_texts(skill, language, "name", "description"),
        "prerequisites": list(skill.prerequisites.all()),
    }
    form = SkillForm(request.POST or None, course=course, skill=skill, initial=initial)
    form.fields["name"].required = language == course.source_language

    def save(lang, data):
        data.pop("code", None)
        services.skill_update(skill=skill, language=lang, **data)

    return _simple_edit(
        request,
        obj=skill,
        course=course,
        form=form,
        save=save,
        template_title=_("Edit skill"),
        back_url=course_edit_url(course),
    )


# --- exercises ------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def exercise_create(request: HttpRequest, lesson_id: int) -> HttpResponse:
    lesson = selectors.lesson_get_for_editor(user=request.user, lesson_id=lesson_id)
    course = lesson.unit.course
    kind = request.GET.get("kind", "")
    if kind not in ExerciseKind.values:
        raise Http404("Unknown exercise type.")
    form = ExerciseForm(request.POST or None, course=course, kind=kind)
    _wire_preview(form, "prompt", course, "#exercise-preview")
    status = 200
    if request.method == "POST":
        try:
            if form.is_valid():
                services.exercise_create(lesson=lesson, kind=kind, **form.service_arguments())
                messages.success(request, _("Exercise added."))
                return redirect("courses:lesson_edit", lesson_id=lesson.id)
            status = 400
        except ApplicationError as exc:
            status = form_add_error(form, exc)
    context = {
        "course": course,
        "lesson": lesson,
        "form": form,
        "kind_label": ExerciseKind(kind).label,
        **_languages_context(course, course.source_language),
    }
    return render(request, "courses/exercise_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def exercise_edit(request: HttpRequest, exercise_id: int) -> HttpResponse:
    exercise = selectors.exercise_get_for_editor(user=request.user, exercise_id=exercise_id)
    lesson = exercise.lesson
    course = lesson.unit.course
    language = _language(request, course)
    form = ExerciseForm(
        request.POST or None,
        course=course,
        kind=exercise.kind,
        initial=ExerciseForm.initial_for(exercise, language),
    )
    _wire_preview(form, "prompt", course, "#exercise-preview")
    status = 200
    if request.method == "POST":
        try:
            if form.is_valid():
                services.exercise_update(
                    exercise=exercise, language=language, **form.service_arguments()
                )
                messages.success(request, _("Saved. Publish the lesson to show the changes."))
                return redirect("courses:lesson_edit", lesson_id=lesson.id)
            status = 400
        except ApplicationError as exc:
            status = form_add_error(form, exc)
    context = {
        "course": course,
        "lesson": lesson,
        "exercise": exercise,
        "form": form,
        "kind_label": exercise.get_kind_display(),
        **_languages_context(course, language),
    }
    return render(request, "courses/exercise_form.html", context, status=status)


# --- assets ---------------------------------------------------------------------------


@login_required
def asset(request: HttpRequest, course_id: int, name: str) -> FileResponse:
    """A course image, for editors and learners of the course's school."""
    if selectors.courses_for_editor(user=request.user).filter(pk=course_id).exists():
        course_id_ok = course_id
    else:
        course_id_ok = selectors.course_get_for_learner(user=request.user, course_id=course_id).id
    item = CourseAsset.objects.filter(course_id=course_id_ok, name=name).first()
    if item is None:
        raise Http404("No such file.")
    content_type = item.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return user_file_response(item.file, content_type)
