"""The tutor section of a teacher's class page (conversations, flagged ones first) and
the labels of safety flags."""

from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from tutor import selectors

register = template.Library()


def flag_labels() -> dict[str, str]:
    return {
        "self_harm": _("self-harm"),
        "abuse": _("abuse or threats"),
        "personal_data": _("personal data"),
        "tutor_reply": _("a reply the tutor withheld"),
        "teacher": _("flagged by a teacher"),
    }


@register.filter
def flag_label(reason: str) -> str:
    return flag_labels().get(reason, reason)


@register.inclusion_tag("tutor/_classroom_oversight.html", takes_context=True)
def tutor_oversight(context, classroom):
    user = context["request"].user
    if not user.is_staff_member:
        return {"show": False}
    return {
        "show": True,
        "classroom": classroom,
        "flagged": selectors.classroom_flagged_count(classroom=classroom),
    }


@register.simple_tag
def voice_notice() -> str:
    """What the student should know about the voice that reads replies in the active
    language (a robotic fallback voice), or ""."""
    from voice.tts import TTSError, voice_for

    try:
        return str(voice_for(get_language()).notice)
    except TTSError:
        return ""
