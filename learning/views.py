"""The student's path (course, lesson flow, progress) and the teacher's class views.

Each view looks objects up with a permission-checked selector, calls one service and
renders or redirects (POST, then redirect, then GET: reloading never answers twice).
"""

import csv

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import classroom_get_for_manager
from common.errors import ApplicationError
from courses import selectors as course_selectors
from courses.i18n import localize, texts_of
from courses.models import ExerciseKind
from learning import analytics, selectors, services
from learning.models import Attempt, Presentation


def _title(obj, field: str, course) -> str:
    return localize(
        texts_of(obj, field), language=get_language(), source_language=course.source_language
    )


def _lesson_url(lesson_id: int, anchor: str = "exercise") -> str:
    return reverse("learning:lesson", kwargs={"lesson_id": lesson_id}) + f"#{anchor}"


# --- the student's path -------------------------------------------------------------------


@login_required
def course_home(request: HttpRequest, course_id: int) -> HttpResponse:
    """A course's lessons with the learner's progress, and "continue"."""
    course = selectors.course_get_for_student(user=request.user, course_id=course_id)
    cmap = selectors.course_map(course=course)
    threshold = settings.LEARNING_MASTERY_THRESHOLD
    progress = selectors.course_progress(learner=request.user, course=course, threshold=threshold)
    mastered = {row.skill.code for row in progress.skills if row.mastered}
    lessons = []
    for lesson in cmap.lessons:
        codes = cmap.lesson_skill_codes(lesson.id)
        lessons.append(
            {
                "id": lesson.id,
                "title": localize(
                    lesson.published_version.snapshot["title"],
                    language=get_language(),
                    source_language=course.source_language,
                ),
                "skills": len(codes),
                "mastered": sum(1 for c in codes if c in mastered),
            }
        )
    context = {
        "course": course,
        "title": _title(course, "title", course),
        "lessons": lessons,
        "progress": progress,
    }
    return render(request, "learning/course.html", context)


@login_required
@require_GET
def course_continue(request: HttpRequest, course_id: int) -> HttpResponse:
    """Go to the next step chosen for this learner."""
    course = selectors.course_get_for_student(user=request.user, course_id=course_id)
    lesson = services.course_next_lesson(
        learner=request.user, cmap=selectors.course_map(course=course)
    )
    if lesson is None:
        messages.success(request, _("You have mastered every skill of this course. Well done!"))
        return redirect("learning:progress")
    return redirect(_lesson_url(lesson.id, "lesson"))


def _skill_bars(cmap, codes, mastery, params, change=None) -> list[dict]:
    threshold = settings.LEARNING_MASTERY_THRESHOLD
    bars = []
    for code in codes:
        skill = cmap.skills.get(code)
        if skill is None:
            continue
        now = mastery.get(code, params[code].prior)
        before = change[code][0] if change and code in change else now
        bars.append(
            {
                "code": code,
                "name": _title(skill, "name", cmap.course),
                "before": round(100 * before),
                "now": round(100 * now),
                "mastered": now >= threshold,
                "moved": round(100 * now) - round(100 * before),
            }
        )
    return bars


@login_required
@require_GET
def lesson_page(request: HttpRequest, lesson_id: int) -> HttpResponse:
    """The reading, then one exercise chosen for this learner."""
    lesson = selectors.lesson_get_for_student(user=request.user, lesson_id=lesson_id)
    course = lesson.unit.course
    cmap = selectors.course_map(course=course)
    language = get_language()
    presentation = services.presentation_for_lesson(learner=request.user, lesson=lesson, cmap=cmap)
    last = presentation or (
        Presentation.objects.filter(learner=request.user, lesson=lesson)
        .select_related("exercise_version")
        .order_by("-shown_at", "-id")
        .first()
    )
    context: dict = {
        "lesson": course_selectors.lesson_view(
            lesson=lesson, language=language, with_exercises=False
        ),
        "presentation": None,
    }
    params = selectors.skill_params(skills=cmap.skills)
    mastery = selectors.learner_mastery(learner=request.user, skills=cmap.skills)
    if last is not None:
        exercise = course_selectors.exercise_view(
            version=last.exercise_version, language=language, course_id=course.id
        )
        attempts = selectors.presentation_attempts(presentation=last)
        latest = attempts[-1] if attempts else None
        codes = last.exercise_version.snapshot.get("skills", [])
        context.update(
            presentation=last,
            exercise=exercise,
            attempts=attempts,
            latest=latest,
            is_open=last.closed_at is None,
            hints=exercise.hints_html[: last.hints_revealed],
            more_hints=last.hints_revealed < len(exercise.hints_html),
            solution_available=bool(exercise.solution_html)
            and services.solution_available(presentation=last),
            grading=latest is not None and latest.status == Attempt.Status.GRADING,
            bars=_skill_bars(
                cmap, codes, mastery, params, latest.mastery_change if latest else None
            ),
            choice_kinds=(ExerciseKind.SINGLE_CHOICE, ExerciseKind.MULTIPLE_CHOICE),
        )
    context["lesson_bars"] = _skill_bars(cmap, cmap.lesson_skill_codes(lesson.id), mastery, params)
    context["lesson_done"] = presentation is None and not services.lesson_has_next(
        learner=request.user, lesson=lesson, cmap=cmap
    )
    return render(request, "learning/lesson.html", context)


@login_required
@require_POST
def lesson_next(request: HttpRequest, lesson_id: int) -> HttpResponse:
    lesson = selectors.lesson_get_for_student(user=request.user, lesson_id=lesson_id)
    cmap = selectors.course_map(course=lesson.unit.course)
    if services.presentation_next(learner=request.user, lesson=lesson, cmap=cmap) is None:
        messages.success(request, _("You have mastered the skills of this lesson."))
    return redirect(_lesson_url(lesson.id))


@login_required
@require_POST
def presentation_answer(request: HttpRequest, presentation_id: int) -> HttpResponse:
    presentation = selectors.presentation_get_for_learner(
        user=request.user, presentation_id=presentation_id
    )
    kind = presentation.exercise_version.snapshot["kind"]
    if kind in (ExerciseKind.SINGLE_CHOICE, ExerciseKind.MULTIPLE_CHOICE):
        response = request.POST.getlist("answer")
    else:
        response = request.POST.get("answer", "")
    try:
        services.attempt_submit(presentation=presentation, response=response)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(_lesson_url(presentation.lesson_id))


@login_required
@require_POST
def presentation_hint(request: HttpRequest, presentation_id: int) -> HttpResponse:
    presentation = selectors.presentation_get_for_learner(
        user=request.user, presentation_id=presentation_id
    )
    try:
        services.hint_reveal(presentation=presentation)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(_lesson_url(presentation.lesson_id, "hints"))


@login_required
@require_POST
def presentation_solution(request: HttpRequest, presentation_id: int) -> HttpResponse:
    presentation = selectors.presentation_get_for_learner(
        user=request.user, presentation_id=presentation_id
    )
    try:
        services.solution_open(presentation=presentation)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(_lesson_url(presentation.lesson_id, "solution"))


@login_required
@require_GET
def presentation_status(request: HttpRequest, presentation_id: int) -> JsonResponse:
    """The latest attempt's status (the page polls this if its socket is down)."""
    presentation = selectors.presentation_get_for_learner(
        user=request.user, presentation_id=presentation_id
    )
    latest = selectors.presentation_latest_attempt(presentation=presentation)
    return JsonResponse({"status": latest.status if latest else None})


@login_required
def progress(request: HttpRequest) -> HttpResponse:
    """My progress: mastery per skill of each of my courses, reviews due, streak."""
    threshold = settings.LEARNING_MASTERY_THRESHOLD
    courses = [
        {
            "course": course,
            "title": _title(course, "title", course),
            "progress": selectors.course_progress(
                learner=request.user, course=course, threshold=threshold
            ),
        }
        for course in selectors.courses_for_student(user=request.user).order_by("id")
    ]
    for entry in courses:
        for row in entry["progress"].skills:
            row.name = _title(row.skill, "name", entry["course"])
    context = {
        "courses": courses,
        "streak": selectors.streak_days(learner=request.user),
        "due": selectors.reviews_due(learner=request.user),
    }
    return render(request, "learning/progress.html", context)


# --- teachers -----------------------------------------------------------------------------


@login_required
@require_POST
def classroom_course_assign(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = classroom_get_for_manager(user=request.user, classroom_id=classroom_id)
    try:
        course_id = int(request.POST.get("course", ""))
    except ValueError as exc:
        raise Http404("No such course.") from exc
    # The school's own courses only: another school's id is a 404.
    course = course_selectors.course_get_for_editor(user=request.user, course_id=course_id)
    try:
        if request.POST.get("action") == "unassign":
            services.course_unassign(classroom=classroom, course=course)
            messages.success(request, _("Course removed from the class."))
        else:
            services.course_assign(classroom=classroom, course=course, assigned_by=request.user)
            messages.success(request, _("Course assigned to the class."))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("accounts:classroom_detail", classroom_id=classroom.id)


def _classroom_course(request: HttpRequest, classroom_id: int):
    classroom = classroom_get_for_manager(user=request.user, classroom_id=classroom_id)
    assignments = list(selectors.classroom_courses(classroom=classroom))
    if not assignments:
        return classroom, None, assignments
    wanted = request.GET.get("course", "")
    chosen = next((a.course for a in assignments if str(a.course_id) == wanted), None)
    return classroom, chosen or assignments[0].course, assignments


@login_required
@require_GET
def classroom_mastery(request: HttpRequest, classroom_id: int) -> HttpResponse:
    """Class-by-skill mastery heatmap, stuck students, exercise difficulty."""
    classroom, course, assignments = _classroom_course(request, classroom_id)
    context = {"classroom": classroom, "course": course, "assignments": assignments}
    if course is not None:
        report = analytics.class_report(classroom=classroom, course=course)
        for skill in report.skills:
            skill.label = _title(skill, "name", course)
        context.update(report=report, course_title=_title(course, "title", course))
    return render(request, "learning/classroom_mastery.html", context)


@login_required
@require_GET
def classroom_mastery_csv(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom, course, _assignments = _classroom_course(request, classroom_id)
    if course is None:
        raise Http404("No course assigned.")
    report = analytics.class_report(classroom=classroom, course=course)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="class-{classroom.id}-course-{course.id}-mastery.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(["student", "email", *[s.code for s in report.skills], "attempts"])
    for row in report.rows:
        writer.writerow(
            [
                analytics.csv_safe(row.student.display_name),
                analytics.csv_safe(row.student.email),
                *[f"{cell:.3f}" if cell is not None else "" for cell in row.cells],
                row.attempts,
            ]
        )
    return response
