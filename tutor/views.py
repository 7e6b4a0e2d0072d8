"""Teachers' oversight of tutor conversations: the class's transcripts with filters, one
transcript with its flags and comments. Students chat over the socket
(tutor.consumers); these pages are for the staff of the class's school only."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import classroom_get_for_manager, classroom_students
from common.errors import ApplicationError
from common.ratelimit import ratelimit_hit
from common.responses import json_error, user_file_response
from courses.rendering import render_markdown
from courses.selectors import asset_base
from learning.selectors import lesson_get_for_student
from privacy.services import audit_record
from tutor import conversation, photos, selectors, services
from tutor import memory as tutor_memory
from tutor.selectors import TranscriptFilter

PAGE_SIZE = 50


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@login_required
@require_GET
def classroom_transcripts(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = classroom_get_for_manager(user=request.user, classroom_id=classroom_id)
    filters = TranscriptFilter(
        flagged=request.GET.get("flagged") == "1",
        student_id=_int_or_none(request.GET.get("student")),
        exercise_id=_int_or_none(request.GET.get("exercise")),
    )
    sessions = selectors.classroom_sessions(classroom=classroom, filters=filters)
    context = {
        "classroom": classroom,
        "filters": filters,
        "sessions": sessions[:PAGE_SIZE],
        "total": sessions.count(),
        "students": classroom_students(classroom=classroom),
        "exercises": selectors.classroom_exercises_discussed(classroom=classroom),
    }
    return render(request, "tutor/transcripts.html", context)


@login_required
@require_GET
def transcript(request: HttpRequest, classroom_id: int, session_id: int) -> HttpResponse:
    session = selectors.session_get_for_teacher(
        user=request.user, classroom_id=classroom_id, session_id=session_id
    )
    audit_record(
        action="transcript_view", actor=request.user, subject=session.learner, target=session
    )
    base = asset_base(session.course_id)
    turns = [
        {
            "turn": turn,
            "html": render_markdown(turn.text, asset_base=base),
            "photo": conversation.photo_of(turn),
        }
        for turn in selectors.session_transcript(session=session)
    ]
    notes = session.notes.select_related("author")
    context = {
        "classroom_id": classroom_id,
        "session": session,
        "turns": turns,
        "notes": notes,
        # What the tutor remembers about the learner on this course (tutor.memory).
        "memory": tutor_memory.memory_get(learner=session.learner, course=session.course),
    }
    return render(request, "tutor/transcript.html", context)


@login_required
@require_POST
def transcript_action(request: HttpRequest, classroom_id: int, session_id: int) -> HttpResponse:
    """Flag, clear the flag, comment, or delete the learner's memory on the course."""
    session = selectors.session_get_for_teacher(
        user=request.user, classroom_id=classroom_id, session_id=session_id
    )
    action = request.POST.get("action", "")
    try:
        if action == "flag":
            services.session_flag(session=session, reasons=["teacher"], by=request.user)
            messages.success(request, _("Conversation flagged."))
        elif action == "clear":
            services.session_unflag(session=session, by=request.user)
            messages.success(request, _("Flag cleared."))
        elif action == "comment":
            services.note_add(
                session=session,
                author=request.user,
                text=request.POST.get("text", ""),
                turn_seq=_int_or_none(request.POST.get("turn")),
            )
            messages.success(request, _("Comment saved."))
        elif action == "memory_delete":
            memory = tutor_memory.memory_get(learner=session.learner, course=session.course)
            if memory is None or memory.is_empty:
                raise ApplicationError(_("The tutor remembers nothing about this student."))
            tutor_memory.memory_delete(memory=memory, by=request.user)
            messages.success(request, _("The tutor's memory of this student was deleted."))
        else:
            messages.error(request, _("Unknown action."))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("tutor:transcript", classroom_id=classroom_id, session_id=session.id)


# --- photos of work -----------------------------------------------------------------------


@login_required
@require_POST
def photo_upload(request: HttpRequest, lesson_id: int) -> JsonResponse:
    """A photo for the student's next tutor message: {"id", "url"} (201), or {"error"}."""
    lesson = lesson_get_for_student(user=request.user, lesson_id=lesson_id)
    upload = request.FILES.get("photo")
    try:
        ratelimit_hit(
            scope="tutor-photo",
            key=str(request.user.id),
            limit=settings.TUTOR_PHOTO_RATE_LIMIT,
            window_seconds=settings.TUTOR_RATE_LIMIT_WINDOW_SECONDS,
        )
        if upload is None:
            raise ApplicationError(_("Choose a photo first."))
        photos.photo_size_check(upload.size)  # before reading it
        session = services.session_for_lesson(learner=request.user, lesson=lesson)
        photo = photos.photo_add(session=session, data=upload.read())
    except ApplicationError as exc:
        return json_error(exc)
    url = reverse("tutor:photo", args=[photo.id])
    return JsonResponse({"id": photo.id, "url": url}, status=201)


@login_required
@require_GET
def photo(request: HttpRequest, photo_id: int) -> FileResponse:
    item = selectors.photo_get_for_user(user=request.user, photo_id=photo_id)
    return user_file_response(item.file, item.content_type, cache_control="private, max-age=3600")


# --- voice --------------------------------------------------------------------------------


@login_required
@require_POST
def voice_upload(request: HttpRequest, lesson_id: int) -> JsonResponse:
    """A recording of the student's question: stored and queued for transcription on the
    `speech` queue ({"id"}, 201), or {"error"}. The browser then sends `voice.send` with
    the id over the tutor socket, which waits for the transcript."""
    from voice import services as voice_services
    from voice.models import Failure

    lesson = lesson_get_for_student(user=request.user, lesson_id=lesson_id)
    upload = request.FILES.get("audio")
    try:
        if upload is None:
            raise ApplicationError(_("Record your question first."))
        if upload.size > settings.VOICE_CLIP_MAX_BYTES:  # refused before it is read
            raise ApplicationError(str(Failure.TOO_LARGE.label))
        session = services.session_for_lesson(learner=request.user, lesson=lesson)
        clip = voice_services.clip_receive(
            learner=request.user,
            data=upload.read(),
            session=session,
            language="",  # Whisper detects it: a student may speak another language
        )
    except ApplicationError as exc:
        return json_error(exc)
    return JsonResponse({"id": clip.id}, status=201)
