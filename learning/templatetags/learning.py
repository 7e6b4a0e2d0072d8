"""The learning section of a class page (frontend/templates/accounts/classroom_detail.html):
the class's courses with the student's progress, or the teacher's assignment controls.
accounts knows no other app, so the page pulls this section in from here."""

from django import template
from django.conf import settings
from django.utils.translation import get_language

from courses.i18n import localize, texts_of
from learning import selectors

register = template.Library()


@register.inclusion_tag("learning/_classroom_courses.html", takes_context=True)
def classroom_courses(context, classroom):
    user = context["request"].user
    language = get_language()
    threshold = settings.LEARNING_MASTERY_THRESHOLD

    def title(course) -> str:
        return localize(
            texts_of(course, "title"), language=language, source_language=course.source_language
        )

    courses = []
    for assignment in selectors.classroom_courses(classroom=classroom):
        course = assignment.course
        entry = {"course": course, "title": title(course)}
        if not user.is_staff_member:
            entry["progress"] = selectors.course_progress(
                learner=user, course=course, threshold=threshold
            )
        courses.append(entry)
    assignable = []
    if user.is_staff_member:
        assignable = [
            {"id": c.id, "title": title(c)}
            for c in selectors.assignable_courses(classroom=classroom)
        ]
    return {
        "classroom": classroom,
        "courses": courses,
        "assignable": assignable,
        "is_staff": user.is_staff_member,
        "csrf_token": context.get("csrf_token"),
    }
