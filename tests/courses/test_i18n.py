"""Translated content falls back to the course's source language."""

import pytest

from common.errors import ApplicationError
from courses import services
from courses.i18n import localize, texts_of
from tests.courses.factories import CourseFactory, UnitFactory

pytestmark = pytest.mark.django_db


def test_localize_prefers_requested_language():
    texts = {"en": "Fractions", "es": "Fracciones"}
    assert localize(texts, language="es", source_language="en") == "Fracciones"


def test_localize_falls_back_to_source_language_not_english():
    texts = {"es": "Fracciones", "en": "Fractions"}
    assert localize(texts, language="fr", source_language="es") == "Fracciones"


def test_localize_uses_base_language_of_regional_code():
    texts = {"en": "Fractions", "es": "Fracciones"}
    assert localize(texts, language="es-mx", source_language="en") == "Fracciones"


def test_localize_with_missing_source_uses_any_text():
    assert localize({"ar": "الكسور"}, language="fr", source_language="en") == "الكسور"
    assert localize({}, language="fr", source_language="en") == ""


def test_course_in_spanish_translated_to_arabic_and_french_falls_back():
    # given a course written in Spanish with an Arabic title
    course = CourseFactory(source_language="es", title_en="", title_es="Fracciones")
    services.course_update(course=course, language="ar", title="الكسور", description="")
    course.refresh_from_db()
    texts = texts_of(course, "title")
    # then
    assert texts == {"es": "Fracciones", "ar": "الكسور"}
    assert localize(texts, language="ar", source_language="es") == "الكسور"
    assert localize(texts, language="fr", source_language="es") == "Fracciones"


def test_blank_title_allowed_in_translation_but_not_in_source():
    unit = UnitFactory(title_en="Adding")
    services.unit_update(unit=unit, language="fr", title="")
    unit.refresh_from_db()
    assert texts_of(unit, "title") == {"en": "Adding"}
    with pytest.raises(ApplicationError):
        services.unit_update(unit=unit, language="en", title="  ")
    unit.refresh_from_db()
    assert unit.title_en == "Adding"
