"""The shape of published snapshots (ExerciseVersion.snapshot, LessonVersion.snapshot).

Exercise snapshot::

    {"kind": "numeric", "source_language": "en",
     "prompt": {"en": "...", "es": "..."}, "solution": {...}, "rubric": {...},
     "answer": {...},                      # see courses.validation for each kind
     "choices": [{"text": {"en": "..."}, "is_correct": true}, ...],
     "hints": [{"en": "...", "es": "..."}, ...],   # in order
     "skills": ["fractions-add", ...]}     # skill codes

Lesson snapshot::

    {"source_language": "en", "title": {...}, "body": {...},
     "exercise_versions": [12, 15, ...]}  # ExerciseVersion ids, in order

Texts are `{language: text}` dicts read with courses.i18n.localize.
"""

from typing import Any

from courses.i18n import texts_of
from courses.models import Exercise, Lesson


def exercise_snapshot(*, exercise: Exercise, source_language: str) -> dict[str, Any]:
    """Snapshot of `exercise`; expects choices, hints and skills prefetched."""
    return {
        "kind": exercise.kind,
        "source_language": source_language,
        "prompt": texts_of(exercise, "prompt"),
        "solution": texts_of(exercise, "solution"),
        "rubric": texts_of(exercise, "rubric"),
        "answer": exercise.answer,
        "choices": [
            {"text": texts_of(choice, "text"), "is_correct": choice.is_correct}
            for choice in exercise.choices.all()
        ],
        "hints": [texts_of(hint, "text") for hint in exercise.hints.all()],
        "skills": sorted(skill.code for skill in exercise.skills.all()),
    }


def lesson_snapshot(
    *, lesson: Lesson, source_language: str, exercise_version_ids: list[int]
) -> dict[str, Any]:
    return {
        "source_language": source_language,
        "title": texts_of(lesson, "title"),
        "body": texts_of(lesson, "body"),
        "exercise_versions": exercise_version_ids,
    }
