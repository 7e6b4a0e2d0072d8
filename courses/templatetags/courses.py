from django import template
from django.utils.translation import get_language

from courses.i18n import localize, texts_of

register = template.Library()


@register.filter
def get_item(mapping: dict, key):
    """`mapping[key]`, or None: templates cannot index a dict with a variable."""
    return mapping.get(key) if mapping else None


def _course_of(obj):
    """The course of a Course, Unit, Skill, Lesson or Exercise."""
    for attr in ("lesson", "unit", "course"):
        if hasattr(obj, "source_language"):
            return obj
        if hasattr(obj, attr):
            obj = getattr(obj, attr)
    if hasattr(obj, "source_language"):
        return obj
    raise TypeError(f"{type(obj).__name__} has no course")


@register.filter
def tr(obj, field: str) -> str:
    """`obj.field` in the active language, else in its course's source language."""
    course = _course_of(obj)
    return localize(
        texts_of(obj, field), language=get_language(), source_language=course.source_language
    )
