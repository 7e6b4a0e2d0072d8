"""Writes for courses. Views, commands and the package importer call these.

Callers have already checked that the user may edit the course (with
courses.selectors.*_get_for_editor). Every function raises ApplicationError with a
user-facing message on bad input and then changes nothing (writes run in a transaction).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from accounts.models import User
from common.errors import ApplicationError
from courses.i18n import LANGUAGE_CODES, field_name, set_text
from courses.models import (
    TITLE_MAX_LENGTH,
    TUTOR_INSTRUCTIONS_MAX_LENGTH,
    Choice,
    Course,
    Exercise,
    ExerciseVersion,
    Hint,
    Lesson,
    LessonVersion,
    Skill,
    SkillPrerequisite,
    Unit,
)
from courses.rendering import MAX_SOURCE_LENGTH
from courses.snapshots import exercise_snapshot, lesson_snapshot
from courses.tasks import index_lesson_version
from courses.validation import clean_answer, exercise_problems

MAX_TEXT_LENGTH = 20_000


def _clean_title(value: str, *, field: str = "title", required: bool = True) -> str:
    value = " ".join((value or "").split())
    if required and not value:
        raise ApplicationError(_("This field is required."), field=field)
    if len(value) > TITLE_MAX_LENGTH:
        raise ApplicationError(
            _("Please use at most %(max)d characters.") % {"max": TITLE_MAX_LENGTH}, field=field
        )
    return value


def _clean_text(value: str, *, field: str, limit: int = MAX_TEXT_LENGTH) -> str:
    value = (value or "").replace("\r\n", "\n").strip()
    if len(value) > limit:
        raise ApplicationError(
            _("Please use at most %(max)d characters.") % {"max": limit}, field=field
        )
    return value


def _clean_language(language: str) -> str:
    if language not in LANGUAGE_CODES:
        raise ApplicationError(_("Unknown language."), field="language")
    return language


def _next_position(queryset) -> int:
    return (queryset.aggregate(m=Max("position"))["m"] or 0) + 1


def _raise_problems(problems: list[tuple[str, str]]) -> None:
    if problems:
        field, message = problems[0]
        raise ApplicationError(
            message, field=field.split(".")[0], extra={"problems": [list(p) for p in problems]}
        )


# --- courses --------------------------------------------------------------------------


def course_create(
    *, author: User, title: str, source_language: str, description: str = ""
) -> Course:
    """A draft course in the author's school."""
    if not author.is_staff_member or author.school_id is None:
        raise ApplicationError(_("Only teachers can create courses."))
    language = _clean_language(source_language)
    course = Course(school_id=author.school_id, source_language=language, created_by=author)
    set_text(course, "title", language, _clean_title(title))
    set_text(course, "description", language, _clean_text(description, field="description"))
    course.save()
    return course


def course_update(*, course: Course, language: str, title: str, description: str) -> Course:
    """Set the course's texts in `language`. A blank title is allowed only in a language
    other than the source language (it then falls back to the source)."""
    language = _clean_language(language)
    set_text(
        course, "title", language, _clean_title(title, required=language == course.source_language)
    )
    set_text(course, "description", language, _clean_text(description, field="description"))
    course.save(
        update_fields=[
            field_name("title", language),
            field_name("description", language),
            "updated_at",
        ]
    )
    return course


def course_tutor_instructions_set(*, course: Course, instructions: str) -> Course:
    """The teacher's instructions to the tutor on this course (tutor.prompt adds them to
    the policy). The caller checked edit access (selectors.course_get_for_editor)."""
    instructions = instructions.strip()
    if len(instructions) > TUTOR_INSTRUCTIONS_MAX_LENGTH:
        raise ApplicationError(
            _("Keep the instructions under %(max)d characters.")
            % {"max": TUTOR_INSTRUCTIONS_MAX_LENGTH},
            field="tutor_instructions",
        )
    course.tutor_instructions = instructions
    course.save(update_fields=["tutor_instructions", "updated_at"])
    return course


def course_set_published(*, course: Course, published: bool) -> Course:
    """Show (or hide) the course to learners. Only lessons that are published themselves
    are visible in a published course."""
    course.is_published = published
    course.save(update_fields=["is_published", "updated_at"])
    return course


# --- units and lessons ----------------------------------------------------------------


def unit_create(*, course: Course, title: str) -> Unit:
    unit = Unit(course=course, position=_next_position(course.units.all()))
    set_text(unit, "title", course.source_language, _clean_title(title))
    unit.save()
    return unit


def unit_update(*, unit: Unit, language: str, title: str) -> Unit:
    language = _clean_language(language)
    source = unit.course.source_language
    set_text(unit, "title", language, _clean_title(title, required=language == source))
    unit.save(update_fields=[field_name("title", language)])
    return unit


def lesson_create(*, unit: Unit, title: str, body: str = "") -> Lesson:
    """A draft lesson at the end of `unit`, texts in the course's source language."""
    lesson = Lesson(unit=unit, position=_next_position(unit.lessons.all()))
    language = unit.course.source_language
    set_text(lesson, "title", language, _clean_title(title))
    set_text(lesson, "body", language, _clean_text(body, field="body", limit=MAX_SOURCE_LENGTH))
    lesson.save()
    return lesson


def lesson_update(*, lesson: Lesson, language: str, title: str, body: str) -> Lesson:
    """Edit the draft. Learners keep seeing the last published version until the lesson is
    published again."""
    language = _clean_language(language)
    source = lesson.unit.course.source_language
    set_text(lesson, "title", language, _clean_title(title, required=language == source))
    set_text(lesson, "body", language, _clean_text(body, field="body", limit=MAX_SOURCE_LENGTH))
    lesson.save(
        update_fields=[field_name("title", language), field_name("body", language), "updated_at"]
    )
    return lesson


@transaction.atomic
def lesson_publish(*, lesson: Lesson) -> LessonVersion:
    """Snapshot the lesson and its exercises and show that snapshot to learners.

    An exercise gets a new ExerciseVersion only when its content changed since its last
    version, so learners' attempts on unchanged exercises keep pointing at the current
    one. Locks the lesson row so two publishes cannot number versions alike.
    """
    lesson = Lesson.objects.select_for_update().select_related("unit__course").get(pk=lesson.pk)
    source = lesson.unit.course.source_language
    exercises = list(
        lesson.exercises.prefetch_related("choices", "hints", "skills").order_by("position", "id")
    )
    problems = [
        (f"exercises[{number}].{field}", message)
        for number, exercise in enumerate(exercises, start=1)
        for field, message in _exercise_stored_problems(exercise, source)
    ]
    if problems:
        first = problems[0]
        number = first[0].split("]")[0].split("[")[1]
        raise ApplicationError(
            _("Exercise %(number)s: %(message)s") % {"number": number, "message": first[1]},
            extra={"problems": [list(p) for p in problems]},
        )
    version_ids = []
    for exercise in exercises:
        snapshot = exercise_snapshot(exercise=exercise, source_language=source)
        latest = exercise.versions.order_by("-number").first()
        if latest is None or latest.snapshot != snapshot:
            latest = ExerciseVersion.objects.create(
                exercise=exercise,
                number=(latest.number + 1) if latest else 1,
                snapshot=snapshot,
            )
        version_ids.append(latest.id)
    snapshot = lesson_snapshot(
        lesson=lesson, source_language=source, exercise_version_ids=version_ids
    )
    version = lesson.versions.order_by("-number").first()
    if version is None or version.snapshot != snapshot:
        version = LessonVersion.objects.create(
            lesson=lesson, number=(version.number + 1) if version else 1, snapshot=snapshot
        )
        index_lesson_version.delay_on_commit(version.id)
    lesson.published_version = version
    lesson.is_published = True
    lesson.save(update_fields=["published_version", "is_published", "updated_at"])
    return version


def lesson_unpublish(*, lesson: Lesson) -> Lesson:
    """Hide the lesson from learners; its versions (and attempts on them) are kept."""
    lesson.is_published = False
    lesson.save(update_fields=["is_published", "updated_at"])
    return lesson


def _exercise_stored_problems(exercise: Exercise, source: str) -> list[tuple[str, str]]:
    def text(obj: Any, field: str) -> str:
        return getattr(obj, field_name(field, source)) or ""

    problems = exercise_problems(
        kind=exercise.kind,
        prompt=text(exercise, "prompt"),
        choices=[(text(c, "text"), c.is_correct) for c in exercise.choices.all()],
        hints=[text(h, "text") for h in exercise.hints.all()],
        skill_count=len(exercise.skills.all()),
        rubric=text(exercise, "rubric"),
    )
    _cleaned, answer_problems = clean_answer(exercise.kind, exercise.answer)
    return problems + answer_problems


# --- skills ---------------------------------------------------------------------------


def _clean_code(code: str) -> str:

    code = (code or "").strip().lower()
    try:
        validate_slug(code)
    except ValidationError as exc:
        raise ApplicationError(
            _("Use lowercase letters, digits, hyphens and underscores."), field="code"
        ) from exc
    if len(code) > 50:
        raise ApplicationError(
            _("Please use at most %(max)d characters.") % {"max": 50}, field="code"
        )
    return code


def _prerequisite_cycle(
    *, course_id: int, skill: Skill, prerequisites: Sequence[Skill]
) -> list[int] | None:
    """The skill ids of a cycle that `skill` requiring `prerequisites` would close, or None.

    A cycle appears iff `skill` is already reachable from one of the new prerequisites
    along existing "requires" edges.
    """
    requires: dict[int, list[int]] = defaultdict(list)
    edges = SkillPrerequisite.objects.filter(skill__course_id=course_id).exclude(skill=skill)
    for skill_id, prerequisite_id in edges.values_list("skill_id", "prerequisite_id"):
        requires[skill_id].append(prerequisite_id)
    for start in prerequisites:
        # Depth-first search from `start` to `skill`, remembering the path.
        stack: list[tuple[int, list[int]]] = [(start.id, [start.id])]
        seen: set[int] = set()
        while stack:
            node, path = stack.pop()
            if node == skill.id:
                return [skill.id, *path]
            if node in seen:
                continue
            seen.add(node)
            stack.extend((nxt, [*path, nxt]) for nxt in requires[node])
    return None


@transaction.atomic
def skill_prerequisites_set(*, skill: Skill, prerequisites: Iterable[Skill]) -> Skill:
    """Make `skill` require exactly `prerequisites` (skills of the same course).

    Refuses a change that would make the prerequisite graph cyclic. Locks the course
    row so two concurrent edits cannot together close a cycle.
    """
    Course.objects.select_for_update().filter(pk=skill.course_id).first()
    prerequisites = list({p.id: p for p in prerequisites}.values())
    if any(p.course_id != skill.course_id for p in prerequisites):
        raise ApplicationError(
            _("Prerequisites must be skills of the same course."), field="prerequisites"
        )
    if any(p.id == skill.id for p in prerequisites):
        raise ApplicationError(_("A skill cannot be its own prerequisite."), field="prerequisites")
    cycle = _prerequisite_cycle(course_id=skill.course_id, skill=skill, prerequisites=prerequisites)
    if cycle:
        codes = dict(Skill.objects.filter(id__in=cycle).values_list("id", "code"))
        path = " → ".join(codes[i] for i in cycle)
        raise ApplicationError(
            _("This would make a cycle of prerequisites: %(path)s.") % {"path": path},
            field="prerequisites",
            extra={"cycle": [codes[i] for i in cycle]},
        )
    SkillPrerequisite.objects.filter(skill=skill).exclude(prerequisite__in=prerequisites).delete()
    existing = set(
        SkillPrerequisite.objects.filter(skill=skill).values_list("prerequisite_id", flat=True)
    )
    SkillPrerequisite.objects.bulk_create(
        SkillPrerequisite(skill=skill, prerequisite=p)
        for p in prerequisites
        if p.id not in existing
    )
    return skill


@transaction.atomic
def skill_create(
    *,
    course: Course,
    code: str,
    name: str,
    description: str = "",
    prerequisites: Iterable[Skill] = (),
) -> Skill:
    code = _clean_code(code)
    if Skill.objects.filter(course=course, code=code).exists():
        raise ApplicationError(_("This course already has a skill with this code."), field="code")
    skill = Skill(course=course, code=code)
    set_text(skill, "name", course.source_language, _clean_title(name, field="name"))
    set_text(
        skill, "description", course.source_language, _clean_text(description, field="description")
    )
    skill.save()
    skill_prerequisites_set(skill=skill, prerequisites=prerequisites)
    return skill


@transaction.atomic
def skill_update(
    *,
    skill: Skill,
    language: str,
    name: str,
    description: str,
    prerequisites: Iterable[Skill] | None = None,
) -> Skill:
    language = _clean_language(language)
    source = skill.course.source_language
    set_text(skill, "name", language, _clean_title(name, field="name", required=language == source))
    set_text(skill, "description", language, _clean_text(description, field="description"))
    skill.save(update_fields=[field_name("name", language), field_name("description", language)])
    if prerequisites is not None:
        skill_prerequisites_set(skill=skill, prerequisites=prerequisites)
    return skill


# --- exercises ------------------------------------------------------------------------


def _check_skills(course: Course, skills: Sequence[Skill]) -> None:
    if any(s.course_id != course.id for s in skills):
        raise ApplicationError(_("Skills must belong to this course."), field="skills")


@transaction.atomic
def exercise_create(
    *,
    lesson: Lesson,
    kind: str,
    prompt: str,
    answer: dict[str, Any],
    skills: Sequence[Skill],
    choices: Sequence[tuple[str, bool]] = (),
    hints: Sequence[str] = (),
    solution: str = "",
    rubric: str = "",
) -> Exercise:
    """A new exercise at the end of the lesson, texts in the course's source language.
    Learners see it once the lesson is published again."""
    course = lesson.unit.course
    source = course.source_language
    skills = list(skills)
    _check_skills(course, skills)
    prompt = _clean_text(prompt, field="prompt")
    rubric = _clean_text(rubric, field="rubric")
    choices = [(" ".join(text.split()), bool(correct)) for text, correct in choices]
    hints = [_clean_text(h, field="hints") for h in hints if h.strip()]
    problems = exercise_problems(
        kind=kind,
        prompt=prompt,
        choices=choices,
        hints=hints,
        skill_count=len(skills),
        rubric=rubric,
    )
    answer, answer_problems = clean_answer(kind, answer)
    _raise_problems(problems + answer_problems)
    exercise = Exercise(
        lesson=lesson, kind=kind, answer=answer, position=_next_position(lesson.exercises.all())
    )
    set_text(exercise, "prompt", source, prompt)
    set_text(exercise, "solution", source, _clean_text(solution, field="solution"))
    set_text(exercise, "rubric", source, rubric)
    exercise.save()
    exercise.skills.set(skills)
    _replace_choices(exercise, source, choices)
    _replace_hints(exercise, source, hints)
    return exercise


def _replace_choices(exercise: Exercise, language: str, choices: Sequence[tuple[str, bool]]):
    exercise.choices.all().delete()
    for position, (text, correct) in enumerate(choices, start=1):
        choice = Choice(exercise=exercise, position=position, is_correct=correct)
        set_text(choice, "text", language, text[:500])
        choice.save()


def _replace_hints(exercise: Exercise, language: str, hints: Sequence[str]):
    exercise.hints.all().delete()
    for position, text in enumerate(hints, start=1):
        hint = Hint(exercise=exercise, position=position)
        set_text(hint, "text", language, text)
        hint.save()


@transaction.atomic
def exercise_update(
    *,
    exercise: Exercise,
    language: str,
    prompt: str,
    answer: dict[str, Any],
    skills: Sequence[Skill],
    choices: Sequence[tuple[str, bool]] = (),
    hints: Sequence[str] = (),
    solution: str = "",
    rubric: str = "",
) -> Exercise:
    """Edit the exercise's texts in `language` and its language-neutral parts (answer key,
    skills). In the source language the choices and hints are replaced; in another
    language they are translations, given in the same order and number as the source
    ones, and correctness marks are ignored. Published versions are never changed."""
    language = _clean_language(language)
    course = exercise.lesson.unit.course
    source = course.source_language
    skills = list(skills)
    _check_skills(course, skills)
    prompt = _clean_text(prompt, field="prompt")
    rubric = _clean_text(rubric, field="rubric")
    choices = [(" ".join(text.split()), bool(correct)) for text, correct in choices]
    hints = [_clean_text(h, field="hints") for h in hints if h.strip()]
    answer, answer_problems = clean_answer(exercise.kind, answer)
    if language == source:
        problems = exercise_problems(
            kind=exercise.kind,
            prompt=prompt,
            choices=choices,
            hints=hints,
            skill_count=len(skills),
            rubric=rubric,
        )
        _raise_problems(problems + answer_problems)
        _replace_choices(exercise, source, choices)
        _replace_hints(exercise, source, hints)
    else:
        existing_choices = list(exercise.choices.all())
        existing_hints = list(exercise.hints.all())
        if len(choices) != len(existing_choices):
            raise ApplicationError(
                _("Give one translation for each of the %(count)d choices.")
                % {"count": len(existing_choices)},
                field="choices",
            )
        if hints and len(hints) != len(existing_hints):
            raise ApplicationError(
                _("Give one translation for each of the %(count)d hints.")
                % {"count": len(existing_hints)},
                field="hints",
            )
        problems = [] if skills else [("skills", _("Tag the exercise with at least one skill."))]
        _raise_problems(problems + answer_problems)
        for choice, (text, _correct) in zip(existing_choices, choices, strict=True):
            set_text(choice, "text", language, text[:500])
            choice.save(update_fields=[field_name("text", language)])
        for hint, text in zip(existing_hints, hints, strict=False):
            set_text(hint, "text", language, text)
            hint.save(update_fields=[field_name("text", language)])
    set_text(exercise, "prompt", language, prompt)
    set_text(exercise, "solution", language, _clean_text(solution, field="solution"))
    set_text(exercise, "rubric", language, rubric)
    exercise.answer = answer
    exercise.save(
        update_fields=[
            *(field_name(f, language) for f in ("prompt", "solution", "rubric")),
            "answer",
            "updated_at",
        ]
    )
    exercise.skills.set(skills)
    return exercise
