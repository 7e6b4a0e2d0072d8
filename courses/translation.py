"""Which fields are translated (django-modeltranslation adds `<field>_<language>` columns).

Fallback to the course's source language is done by courses.i18n, not by
modeltranslation's global fallback, because the source language differs per course.
"""

from modeltranslation.translator import TranslationOptions, register

from courses.models import Choice, Course, Exercise, Hint, Lesson, Skill, Unit


@register(Course)
class CourseTranslation(TranslationOptions):
    fields = ("title", "description")


@register(Unit)
class UnitTranslation(TranslationOptions):
    fields = ("title",)


@register(Lesson)
class LessonTranslation(TranslationOptions):
    fields = ("title", "body")


@register(Skill)
class SkillTranslation(TranslationOptions):
    fields = ("name", "description")


@register(Exercise)
class ExerciseTranslation(TranslationOptions):
    fields = ("prompt", "solution", "rubric")


@register(Choice)
class ChoiceTranslation(TranslationOptions):
    fields = ("text",)


@register(Hint)
class HintTranslation(TranslationOptions):
    fields = ("text",)
