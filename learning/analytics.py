"""Class analytics for teachers: the mastery heatmap, who is stuck, exercise difficulty.

Reads only. The caller checked that the teacher manages the class; the course is one
assigned to it. A fixed number of queries whatever the class size.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Avg, Count, Q

from accounts.models import Classroom, User
from accounts.selectors import classroom_students
from courses.models import Course, Exercise, Skill
from learning.models import Attempt, SkillMastery
from learning.selectors import course_map


@dataclass
class Cell:
    p: float | None  # None: no attempt yet on this skill
    percent: int
    color: str  # CSS colour: red (0) through amber to green (mastered)


@dataclass
class StudentRow:
    student: User
    cells: list[float | None]
    heat: list[Cell]
    attempts: int


@dataclass
class Stuck:
    student: User
    skill: Skill
    opportunities: int
    p_known: float


@dataclass
class ExerciseStats:
    exercise: Exercise
    first_attempts: int
    first_try_correct: float  # fraction of first attempts correct without hints
    mean_hints: float


@dataclass
class ClassReport:
    skills: list[Skill]
    rows: list[StudentRow]
    stuck: list[Stuck] = field(default_factory=list)
    exercises: list[ExerciseStats] = field(default_factory=list)
    threshold: float = 0.95


def heat_color(p: float | None) -> str:
    """Hue 0 (red) at 0 through 120 (green) at mastery; grey when nothing is known."""
    if p is None:
        return "hsl(0, 0%, 90%)"
    hue = round(120 * min(1.0, p / settings.LEARNING_MASTERY_THRESHOLD))
    return f"hsl({hue}, 65%, {72 if p < settings.LEARNING_MASTERY_THRESHOLD else 55}%)"


def class_report(*, classroom: Classroom, course: Course) -> ClassReport:
    threshold = settings.LEARNING_MASTERY_THRESHOLD
    # Columns in the order the course teaches the skills; skills no exercise uses last.
    order: dict[str, int] = {}
    for item in course_map(course=course).items:
        for code in item.skills:
            order.setdefault(code, len(order))
    skills = sorted(
        Skill.objects.filter(course=course), key=lambda s: (order.get(s.code, len(order)), s.code)
    )
    students = list(classroom_students(classroom=classroom))
    masteries = {
        (m.learner_id, m.skill_id): m
        for m in SkillMastery.objects.filter(learner__in=students, skill__in=skills)
    }
    attempts = dict(
        Attempt.objects.filter(learner__in=students, course=course)
        .values("learner_id")
        .annotate(n=Count("id"))
        .values_list("learner_id", "n")
    )
    rows: list[StudentRow] = []
    stuck: list[Stuck] = []
    for student in students:
        cells: list[float | None] = []
        for skill in skills:
            mastery = masteries.get((student.id, skill.id))
            cells.append(mastery.p_known if mastery else None)
            if (
                mastery
                and mastery.opportunities >= settings.LEARNING_STUCK_ATTEMPTS
                and mastery.p_known < threshold
            ):
                stuck.append(Stuck(student, skill, mastery.opportunities, mastery.p_known))
        heat = [Cell(p, round(100 * p) if p is not None else 0, heat_color(p)) for p in cells]
        rows.append(StudentRow(student, cells, heat, attempts.get(student.id, 0)))
    stuck.sort(key=lambda s: (-s.opportunities, s.p_known))
    return ClassReport(
        skills=skills,
        rows=rows,
        stuck=stuck,
        exercises=exercise_difficulty(course=course, students=students),
        threshold=threshold,
    )


def exercise_difficulty(*, course: Course, students: list[User]) -> list[ExerciseStats]:
    """Per exercise, over the class's first attempts: how many, share right unaided,
    mean hints. Hardest first."""
    stats = (
        Attempt.objects.filter(
            course=course,
            learner__in=students,
            is_first=True,
            status__in=[Attempt.Status.CORRECT, Attempt.Status.INCORRECT],
        )
        .values("exercise_id")
        .annotate(
            n=Count("id"),
            right=Count("id", filter=Q(status=Attempt.Status.CORRECT, hints_used=0)),
            hints=Avg("hints_used"),
        )
    )
    by_id = {row["exercise_id"]: row for row in stats}
    exercises = Exercise.objects.filter(id__in=by_id).select_related("lesson")
    result = [
        ExerciseStats(
            exercise=exercise,
            first_attempts=by_id[exercise.id]["n"],
            first_try_correct=by_id[exercise.id]["right"] / by_id[exercise.id]["n"],
            mean_hints=float(by_id[exercise.id]["hints"] or 0),
        )
        for exercise in exercises
    ]
    result.sort(key=lambda s: (s.first_try_correct, -s.first_attempts))
    return result


def csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas in user-supplied text (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
