"""E-mail to teachers about their students' tutor conversations."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from accounts.models import Classroom
from tutor.models import TutorSession


def flagged_alert_send(*, session_id: int) -> int:
    """Tell each teacher of the learner's classes that take this course that the
    conversation was flagged, in the teacher's language; at most once per flagging (the
    session row lock and `alerted_at` make a redelivered task a no-op). Returns how many
    teachers were written to. The e-mail names the reasons and links to the transcript;
    it quotes nothing the student wrote."""
    with transaction.atomic():
        session = (
            TutorSession.objects.select_for_update()
            .select_related("learner", "lesson")
            .filter(pk=session_id)
            .first()
        )
        if session is None or session.flagged_at is None:
            return 0
        if session.alerted_at is not None and session.alerted_at >= session.flagged_at:
            return 0
        classrooms = (
            Classroom.objects.filter(
                membership__student=session.learner,
                assignments__course_id=session.course_id,
            )
            .select_related("teacher")
            .distinct()
        )
        sent = 0
        base = settings.SITE_URL.rstrip("/") if getattr(settings, "SITE_URL", "") else ""
        for classroom in classrooms:
            teacher = classroom.teacher
            link = base + reverse(
                "tutor:transcript", kwargs={"classroom_id": classroom.id, "session_id": session.id}
            )
            with translation.override(teacher.preferred_language):
                context = {
                    "teacher": teacher,
                    "student": session.learner,
                    "classroom": classroom,
                    "reasons": session.flags,
                    "link": link,
                }
                subject = render_to_string("tutor/email/flagged_subject.txt", context).strip()
                body = render_to_string("tutor/email/flagged_body.txt", context)
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [teacher.email])
            sent += 1
        session.alerted_at = session.flagged_at
        session.save(update_fields=["alerted_at"])
    return sent
