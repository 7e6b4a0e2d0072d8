"""Reading translated content: the requested language, else the course's source language.

Texts travel as `{language: text}` dicts (live rows and published snapshots alike), so
one function decides the fallback everywhere.
"""

from collections.abc import Mapping

from django.conf import settings
from django.db import models

LANGUAGE_CODES: tuple[str, ...] = tuple(code for code, _name in settings.LANGUAGES)


def field_name(field: str, language: str) -> str:
    """The modeltranslation column for `field` in `language` (`title_es`)."""
    return f"{field}_{language.replace('-', '_')}"


def texts_of(obj: models.Model, field: str) -> dict[str, str]:
    """Every non-empty translation of `obj.field`, keyed by language."""
    texts = {}
    for language in LANGUAGE_CODES:
        value = getattr(obj, field_name(field, language), "") or ""
        if value:
            texts[language] = value
    return texts


def localize(texts: Mapping[str, str], *, language: str, source_language: str) -> str:
    """`texts` in `language` (or its base language: es-mx → es), else in the source
    language, else in any language that has it, else the empty string."""
    for candidate in (language, language.split("-")[0], source_language):
        if texts.get(candidate):
            return texts[candidate]
    return next((text for text in texts.values() if text), "")


def set_text(obj: models.Model, field: str, language: str, value: str) -> None:
    if language not in LANGUAGE_CODES:
        raise ValueError(f"unknown language {language!r}")
    setattr(obj, field_name(field, language), value)
