"""Reads for LTI: the tool's published keys, platforms, and what deep linking offers."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from courses import selectors as course_selectors
from courses.i18n import localize, texts_of
from courses.models import Course, Lesson
from lti.models import LtiPlatform, LtiToolKey


def tool_keys_published() -> QuerySet[LtiToolKey]:
    """The current key and those retiring but still in their grace period, newest first."""
    return LtiToolKey.objects.filter(
        Q(retires_at__isnull=True) | Q(retires_at__gt=timezone.now())
    ).order_by("-created_at", "-id")


def tool_jwks() -> dict[str, Any]:
    return {"keys": [key.public_jwk for key in tool_keys_published()]}


def tool_key_signing() -> LtiToolKey | None:
    """The newest key not being retired: the one that signs."""
    return LtiToolKey.objects.filter(retires_at__isnull=True).order_by("-created_at", "-id").first()


def platform_for_login(*, issuer: str, client_id: str) -> LtiPlatform | None:
    """The active registration a login initiation names (client_id may be missing when
    the issuer has only one)."""
    platforms = LtiPlatform.objects.filter(issuer=issuer, is_active=True)
    if client_id:
        platforms = platforms.filter(client_id=client_id)
    found = list(platforms[:2])
    return found[0] if len(found) == 1 else None


def platform_origins(*, platform: LtiPlatform, extra_urls: tuple[str, ...] = ()) -> list[str]:
    """Origins (scheme://host[:port]) of the platform's URLs: the pages that may frame ours."""
    origins: list[str] = []
    for url in (platform.issuer, platform.auth_login_url, *extra_urls):
        parts = urlsplit(url or "")
        if parts.scheme in ("http", "https") and parts.netloc:
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in origins:
                origins.append(origin)
    return origins


@dataclass(frozen=True)
class DeepLinkChoice:
    course: Course
    title: str
    lessons: list[tuple[Lesson, str]]  # (lesson, its title in the course's language)


def deep_link_choices(*, user: User, language: str) -> list[DeepLinkChoice]:
    """The published courses of the user's school with their published lessons, titled
    in `language` where translated."""
    choices = []
    for course in course_selectors.courses_for_learner(user=user).order_by("id"):
        source = course.source_language
        lessons = [
            (
                lesson,
                localize(
                    lesson.published_version.snapshot["title"],
                    language=language,
                    source_language=source,
                ),
            )
            for lesson in course_selectors.course_published_lessons(course=course)
        ]
        title = localize(texts_of(course, "title"), language=language, source_language=source)
        choices.append(DeepLinkChoice(course=course, title=title, lessons=lessons))
    return choices
