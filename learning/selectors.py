"""Reads for the learner model, and the permission-checked lookups of the student's path.

A student reaches a course only through a class of theirs it is assigned to; a teacher or
school admin may open any published course of their school (to try it as a student
would). Anything else is Http404, like accounts.selectors and courses.selectors.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from accounts.models import Classroom, User
from courses import selectors as course_selectors
from courses.models import Course, ExerciseVersion, Lesson, Skill, SkillPrerequisite
from learning.bkt import DEFAULT_PARAMS, BktParams
from learning.models import (
    Attempt,
    CourseAssignment,
    Presentation,
    ReviewCard,
    SkillMastery,
    SkillParams,
)
from learning.selection import Item

# --- access ---------------------------------------------------------------------------


def courses_for_student(*, user: User) -> QuerySet[Course]:
    """Published courses of the user's school assigned to one of their classes (any
    published course of the school for its staff)."""
    if not user.is_authenticated or user.school_id is None:
        return Course.objects.none()
    qs = Course.objects.filter(school_id=user.school_id, is_published=True)
    if user.is_staff_member:
        return qs
    return qs.filter(assignments__classroom__membership__student=user).distinct()


def course_get_for_student(*, user: User, course_id: int) -> Course:
    course = courses_for_student(user=user).filter(pk=course_id).first()
    if course is None:
        raise Http404("No such course.")
    return course


def lesson_get_for_student(*, user: User, lesson_id: int) -> Lesson:
    """A published lesson of a course the user may study; Http404 otherwise."""
    lesson = course_selectors.lesson_get_for_learner(user=user, lesson_id=lesson_id)
    if not courses_for_student(user=user).filter(pk=lesson.unit.course_id).exists():
        raise Http404("No such lesson.")
    return lesson


def presentation_get_for_learner(*, user: User, presentation_id: int) -> Presentation:
    """The learner's own presentation, of a course they may still study; Http404 otherwise."""
    if not user.is_authenticated:
        raise Http404("No such exercise.")
    presentation = (
        Presentation.objects.select_related("exercise_version", "lesson", "course")
        .filter(pk=presentation_id, learner=user)
        .first()
    )
    if (
        presentation is None
        or not courses_for_student(user=user).filter(pk=presentation.course_id).exists()
    ):
        raise Http404("No such exercise.")
    return presentation


def classroom_courses(*, classroom: Classroom) -> QuerySet[CourseAssignment]:
    return classroom.assignments.select_related("course").order_by("assigned_at", "id")


def assignable_courses(*, classroom: Classroom) -> QuerySet[Course]:
    """Published courses of the class's school not yet assigned to it."""
    return Course.objects.filter(school_id=classroom.school_id, is_published=True).exclude(
        assignments__classroom=classroom
    )


# --- the course as the learner model sees it -------------------------------------------


@dataclass
class CourseMap:
    """A published course reduced to what selection needs. Item ids are exercise ids."""

    course: Course
    lessons: list[Lesson]
    items: list[Item]
    # exercise id -> (lesson id, ExerciseVersion id shown by that lesson's snapshot)
    placement: dict[int, tuple[int, int]]
    skills: dict[str, Skill]  # code -> skill
    prerequisites: dict[str, frozenset[str]] = field(default_factory=dict)

    def lesson_items(self, lesson_id: int) -> list[Item]:
        return [item for item in self.items if self.placement[item.id][0] == lesson_id]

    def lesson_skill_codes(self, lesson_id: int) -> list[str]:
        codes: list[str] = []
        for item in self.lesson_items(lesson_id):
            codes.extend(code for code in item.skills if code not in codes)
        return codes


def course_map(*, course: Course) -> CourseMap:
    """Four queries: lessons, exercise versions, skills, prerequisite edges."""
    lessons = list(course_selectors.course_published_lessons(course=course))
    version_ids = [
        vid for lesson in lessons for vid in lesson.published_version.snapshot["exercise_versions"]
    ]
    versions = {
        v.id: v
        for v in ExerciseVersion.objects.filter(id__in=version_ids).only(
            "id", "exercise_id", "snapshot"
        )
    }
    skills = {skill.code: skill for skill in Skill.objects.filter(course=course)}
    by_id = {skill.id: code for code, skill in skills.items()}
    prerequisites: dict[str, set[str]] = {code: set() for code in skills}
    for edge in SkillPrerequisite.objects.filter(skill__course=course):
        if edge.skill_id in by_id and edge.prerequisite_id in by_id:
            prerequisites[by_id[edge.skill_id]].add(by_id[edge.prerequisite_id])
    items: list[Item] = []
    placement: dict[int, tuple[int, int]] = {}
    position = 0
    for lesson in lessons:
        for vid in lesson.published_version.snapshot["exercise_versions"]:
            version = versions.get(vid)
            if version is None or version.exercise_id in placement:
                continue
            codes = tuple(c for c in version.snapshot.get("skills", []) if c in skills)
            if not codes:
                continue  # an untagged exercise teaches no tracked skill
            position += 1
            items.append(Item(id=version.exercise_id, skills=codes, position=position))
            placement[version.exercise_id] = (lesson.id, vid)
    return CourseMap(
        course=course,
        lessons=lessons,
        items=items,
        placement=placement,
        skills=skills,
        prerequisites={code: frozenset(p) for code, p in prerequisites.items()},
    )


def skill_params(*, skills: dict[str, Skill]) -> dict[str, BktParams]:
    fitted = {p.skill_id: p for p in SkillParams.objects.filter(skill__in=skills.values())}
    result = {}
    for code, skill in skills.items():
        row = fitted.get(skill.id)
        result[code] = (
            BktParams(prior=row.prior, learn=row.learn, guess=row.guess, slip=row.slip)
            if row
            else DEFAULT_PARAMS
        )
    return result


def learner_mastery(*, learner: User, skills: dict[str, Skill]) -> dict[str, float]:
    """P(known) per skill code, for the skills the learner has a record of."""
    by_id = {skill.id: code for code, skill in skills.items()}
    return {
        by_id[m.skill_id]: m.p_known
        for m in SkillMastery.objects.filter(learner=learner, skill_id__in=by_id)
    }


def learner_opportunities(*, learner: User, skills: dict[str, Skill]) -> dict[str, int]:
    """First attempts per skill code (what selection's stall re-check counts)."""
    by_id = {skill.id: code for code, skill in skills.items()}
    return {
        by_id[skill_id]: count
        for skill_id, count in SkillMastery.objects.filter(
            learner=learner, skill_id__in=by_id
        ).values_list("skill_id", "opportunities")
    }


def due_review_codes(*, learner: User, skills: dict[str, Skill], now=None) -> frozenset[str]:
    by_id = {skill.id: code for code, skill in skills.items()}
    due = ReviewCard.objects.filter(
        learner=learner, skill_id__in=by_id, due__lte=now or timezone.now()
    ).values_list("skill_id", flat=True)
    return frozenset(by_id[skill_id] for skill_id in due)


def open_presentation(*, learner: User, course: Course) -> Presentation | None:
    return (
        Presentation.objects.select_related("exercise_version", "lesson")
        .filter(learner=learner, course=course, closed_at__isnull=True)
        .order_by("-shown_at", "-id")
        .first()
    )


def last_presentation(*, learner: User, course: Course) -> Presentation | None:
    return (
        Presentation.objects.select_related("exercise_version", "lesson")
        .filter(learner=learner, course=course)
        .order_by("-shown_at", "-id")
        .first()
    )


def presentation_attempts(*, presentation: Presentation) -> list[Attempt]:
    return list(presentation.attempts.order_by("created_at", "id"))


def presentation_latest_attempt(*, presentation: Presentation) -> Attempt | None:
    return presentation.attempts.order_by("-created_at", "-id").first()


def reviews_due(*, learner: User, now=None) -> QuerySet[ReviewCard]:
    """The learner's review cards that are due, oldest first, with skill and course."""
    return (
        ReviewCard.objects.filter(learner=learner, due__lte=now or timezone.now())
        .select_related("skill__course")
        .order_by("due", "id")
    )


# --- progress ---------------------------------------------------------------------------


@dataclass
class SkillProgress:
    skill: Skill
    p_known: float
    mastered: bool
    opportunities: int
    review_due: object | None  # datetime of the next review, if the skill has a card


@dataclass
class CourseProgress:
    course: Course
    skills: list[SkillProgress]

    @property
    def mastered_count(self) -> int:
        return sum(1 for s in self.skills if s.mastered)

    @property
    def fraction(self) -> float:
        return self.mastered_count / len(self.skills) if self.skills else 0.0

    @property
    def percent(self) -> int:
        return round(100 * self.fraction)


def course_progress(*, learner: User, course: Course, threshold: float) -> CourseProgress:
    skills = list(Skill.objects.filter(course=course).order_by("code"))
    masteries = {
        m.skill_id: m for m in SkillMastery.objects.filter(learner=learner, skill__in=skills)
    }
    cards = {c.skill_id: c for c in ReviewCard.objects.filter(learner=learner, skill__in=skills)}
    params = skill_params(skills={s.code: s for s in skills})
    rows = []
    for skill in skills:
        mastery = masteries.get(skill.id)
        p = mastery.p_known if mastery else params[skill.code].prior
        card = cards.get(skill.id)
        rows.append(
            SkillProgress(
                skill=skill,
                p_known=p,
                mastered=p >= threshold,
                opportunities=mastery.opportunities if mastery else 0,
                review_due=card.due if card else None,
            )
        )
    return CourseProgress(course=course, skills=rows)


def streak_days(*, learner: User, today: date | None = None) -> int:
    """Consecutive days with at least one attempt, ending today (or yesterday, so a
    streak is not lost before today's work)."""
    today = today or timezone.localdate()
    since = timezone.now() - timedelta(days=400)
    days = set(
        Attempt.objects.filter(learner=learner, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values_list("day", flat=True)
        .distinct()
    )
    day = today if today in days else today - timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= timedelta(days=1)
    return count
