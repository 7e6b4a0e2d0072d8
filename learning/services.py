"""Writes for the learner model. Views, consumers and tasks call these.

Callers have already checked access with learning.selectors (the learner's own
presentation, a course they may study, a class they manage). Every function raises
ApplicationError with a user-facing message on bad input and then changes nothing.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from fsrs import Card, Rating, Scheduler

from accounts.models import Classroom, User
from common.errors import ApplicationError
from courses.checkers import Status, check_answer
from courses.models import Course, Lesson, Skill
from learning import bkt, selectors
from learning.grading import Grade
from learning.models import (
    Attempt,
    CourseAssignment,
    Presentation,
    ReviewCard,
    SkillMastery,
    SkillParams,
)
from learning.selection import choose_next, stalled_prerequisites

logger = logging.getLogger(__name__)

# Longest time we believe a learner spent on one answer (a tab left open overnight).
MAX_TIME_TAKEN_MS = 60 * 60 * 1000


def learner_group_name(learner_id: int) -> str:
    """Channel-layer group of one learner's sockets (grading results are pushed here)."""
    return f"learner-{learner_id}"


def _scheduler() -> Scheduler:
    # Skills are reviewed in days, not minutes: no learning steps; no fuzz, so a review
    # date is reproducible from the record.
    return Scheduler(
        desired_retention=settings.LEARNING_REVIEW_RETENTION,
        learning_steps=(),
        relearning_steps=(),
        enable_fuzzing=False,
    )


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# --- assignment -------------------------------------------------------------------------


def course_assign(*, classroom: Classroom, course: Course, assigned_by: User) -> CourseAssignment:
    """Put `course` in front of `classroom`. The caller found both with permission-checked
    lookups (the course among the school's courses: another school's is a 404)."""
    if course.school_id != classroom.school_id:
        raise ApplicationError(_("This course belongs to another school."))
    if not course.is_published:
        raise ApplicationError(_("Publish the course before assigning it."))
    assignment, _created = CourseAssignment.objects.get_or_create(
        classroom=classroom, course=course, defaults={"assigned_by": assigned_by}
    )
    return assignment


def course_unassign(*, classroom: Classroom, course: Course) -> None:
    """Take the course away from the class. Attempts and mastery are kept."""
    CourseAssignment.objects.filter(classroom=classroom, course=course).delete()


# --- choosing what comes next ----------------------------------------------------------


def presentation_for_lesson(
    *, learner: User, lesson: Lesson, cmap: selectors.CourseMap, start: bool = False
) -> Presentation | None:
    """The learner's exercise on this lesson page.

    Returns the open presentation shown on this lesson, or — when there is none and
    `start` is set, or the learner has never practised here — a new one chosen by
    learning.selection from the lesson's exercises plus the course's due reviews.
    Returns None when the lesson has nothing left to practise.
    """
    current = (
        Presentation.objects.select_related("exercise_version", "lesson")
        .filter(learner=learner, lesson=lesson, closed_at__isnull=True)
        .order_by("-shown_at", "-id")
        .first()
    )
    if current is not None:
        return current
    if not start and Presentation.objects.filter(learner=learner, lesson=lesson).exists():
        return None
    return _presentation_choose(learner=learner, lesson=lesson, cmap=cmap)


def presentation_next(
    *, learner: User, lesson: Lesson, cmap: selectors.CourseMap
) -> Presentation | None:
    """Close whatever is open on this lesson page (skipped, not failed) and choose anew."""
    Presentation.objects.filter(learner=learner, lesson=lesson, closed_at__isnull=True).update(
        closed_at=timezone.now()
    )
    return _presentation_choose(learner=learner, lesson=lesson, cmap=cmap)


def _lesson_choice(*, learner: User, lesson: Lesson, cmap: selectors.CourseMap):
    """Choose from the lesson's exercises, plus exercises anywhere in the course for
    skills due for review or for prerequisites to re-check because a skill stalls."""
    params = selectors.skill_params(skills=cmap.skills)
    mastery = selectors.learner_mastery(learner=learner, skills=cmap.skills)
    opportunities = selectors.learner_opportunities(learner=learner, skills=cmap.skills)
    due = selectors.due_review_codes(learner=learner, skills=cmap.skills)
    threshold = settings.LEARNING_MASTERY_THRESHOLD
    lesson_items = cmap.lesson_items(lesson.id)
    recheck = stalled_prerequisites(
        skills=cmap.lesson_skill_codes(lesson.id),
        mastery=mastery,
        params=params,
        prerequisites=cmap.prerequisites,
        opportunities=opportunities,
        threshold=threshold,
    )
    lesson_ids = {item.id for item in lesson_items}
    elsewhere = [
        item
        for item in cmap.items
        if item.id not in lesson_ids and set(item.skills) & (due | recheck)
    ]
    last = selectors.last_presentation(learner=learner, course=cmap.course)
    return choose_next(
        items=[*lesson_items, *elsewhere],
        mastery=mastery,
        params=params,
        prerequisites=cmap.prerequisites,
        due_reviews=due,
        last_item_id=last.exercise_id if last else None,
        last_was_review=bool(last and last.reason == Presentation.Reason.REVIEW),
        threshold=threshold,
        opportunities=opportunities,
    )


def lesson_has_next(*, learner: User, lesson: Lesson, cmap: selectors.CourseMap) -> bool:
    """Whether this lesson page still has an exercise to give the learner."""
    return _lesson_choice(learner=learner, lesson=lesson, cmap=cmap) is not None


def _presentation_choose(
    *, learner: User, lesson: Lesson, cmap: selectors.CourseMap
) -> Presentation | None:
    choice = _lesson_choice(learner=learner, lesson=lesson, cmap=cmap)
    if choice is None:
        return None
    _home_lesson_id, version_id = cmap.placement[choice.item.id]
    return Presentation.objects.create(
        learner=learner,
        course=cmap.course,
        lesson=lesson,
        exercise_id=choice.item.id,
        exercise_version_id=version_id,
        reason=choice.reason,
        predicted_success=choice.predicted_success,
    )


def course_next_lesson(*, learner: User, cmap: selectors.CourseMap) -> Lesson | None:
    """Where "continue" goes: the lesson of the learner's open exercise; else the first
    lesson (in course order) that still has something to practise for this learner;
    else None (the course is mastered and no review is due)."""
    current = selectors.open_presentation(learner=learner, course=cmap.course)
    if current is not None:
        return current.lesson
    params = selectors.skill_params(skills=cmap.skills)
    mastery = selectors.learner_mastery(learner=learner, skills=cmap.skills)
    due = selectors.due_review_codes(learner=learner, skills=cmap.skills)
    threshold = settings.LEARNING_MASTERY_THRESHOLD
    for lesson in cmap.lessons:
        codes = cmap.lesson_skill_codes(lesson.id)
        if any(mastery.get(c, params[c].prior) < threshold or c in due for c in codes):
            return lesson
    return None


# --- hints and the worked solution -------------------------------------------------------


def _hint_count(presentation: Presentation) -> int:
    return len(presentation.exercise_version.snapshot.get("hints", []))


def hint_reveal(*, presentation: Presentation) -> int:
    """Reveal the next hint; returns how many are now revealed."""
    total = _hint_count(presentation)
    if presentation.closed_at is not None:
        raise ApplicationError(_("This exercise is finished."))
    if presentation.hints_revealed >= total:
        raise ApplicationError(_("There are no more hints for this exercise."))
    Presentation.objects.filter(pk=presentation.pk, hints_revealed__lt=total).update(
        hints_revealed=F("hints_revealed") + 1
    )
    presentation.refresh_from_db(fields=["hints_revealed"])
    return presentation.hints_revealed


def solution_available(*, presentation: Presentation) -> bool:
    """After a real attempt, or once the last hint is revealed."""
    total = _hint_count(presentation)
    if total and presentation.hints_revealed >= total:
        return True
    return presentation.attempts.exclude(status=Attempt.Status.GRADING).exists()


def solution_open(*, presentation: Presentation) -> None:
    """Record that the learner opened the worked solution (the first time counts)."""
    if not presentation.exercise_version.snapshot.get("solution"):
        raise ApplicationError(_("This exercise has no worked solution."))
    if not solution_available(presentation=presentation):
        raise ApplicationError(_("Try the exercise first (or use every hint)."))
    Presentation.objects.filter(pk=presentation.pk, solution_opened_at__isnull=True).update(
        solution_opened_at=timezone.now()
    )
    presentation.refresh_from_db(fields=["solution_opened_at"])


# --- answers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitResult:
    attempt: Attempt
    message: str


def attempt_submit(*, presentation: Presentation, response: str | list[str]) -> SubmitResult:
    """Check an answer and store it as an attempt.

    Objective kinds are checked at once and move mastery; a free response is stored as
    `grading` and graded by learning.tasks.grade_attempt after commit. A malformed answer
    (no number, no choice, ...) raises ApplicationError and is not an attempt. Time
    taken runs from the exercise being shown (or the previous try) to now.
    """
    snapshot = presentation.exercise_version.snapshot
    result = check_answer(snapshot=snapshot, response=response)
    if result.status == Status.INVALID:
        raise ApplicationError(result.message, field="answer")
    now = timezone.now()
    with transaction.atomic():
        locked = Presentation.objects.select_for_update().get(pk=presentation.pk)
        if locked.closed_at is not None:
            raise ApplicationError(_("This exercise is finished. Go on to the next one."))
        previous = locked.attempts.order_by("-created_at").values_list("created_at", flat=True)
        since = previous.first() or locked.shown_at
        is_first = not previous.exists()
        time_taken_ms = int((now - since).total_seconds() * 1000)
        attempt = Attempt(
            learner_id=locked.learner_id,
            presentation=locked,
            course_id=locked.course_id,
            exercise_id=locked.exercise_id,
            exercise_version_id=locked.exercise_version_id,
            answer=response,
            hints_used=locked.hints_revealed,
            time_taken_ms=max(0, min(int(time_taken_ms), MAX_TIME_TAKEN_MS)),
            is_first=is_first,
        )
        if result.status == Status.NEEDS_GRADING:
            attempt.status = Attempt.Status.GRADING
            attempt.save()
            from learning.tasks import grade_attempt

            attempt_id = attempt.id
            transaction.on_commit(lambda: grade_attempt.delay(attempt_id))
        else:
            attempt.status = (
                Attempt.Status.CORRECT if result.is_correct else Attempt.Status.INCORRECT
            )
            attempt.score = 1.0 if result.is_correct else 0.0
            attempt.feedback = result.message
            attempt.graded_at = now
            attempt.save()
            _outcome_apply(attempt=attempt, presentation=locked, now=now)
    return SubmitResult(attempt=attempt, message=result.message)


def _outcome_apply(*, attempt: Attempt, presentation: Presentation, now: datetime) -> None:
    """Move mastery and review cards with a graded attempt, once. Runs inside the
    caller's transaction with `presentation` locked."""
    if attempt.mastery_applied_at is not None:
        return
    correct = attempt.status == Attempt.Status.CORRECT
    if correct:
        presentation.closed_at = now
        presentation.save(update_fields=["closed_at"])
    change: dict[str, list[float]] = {}
    if attempt.is_first:
        # Help taken before the first try means the learner did not know it unaided.
        observed = correct and attempt.hints_used == 0 and presentation.solution_opened_at is None
        codes = presentation.exercise_version.snapshot.get("skills", [])
        skills = list(Skill.objects.filter(course_id=presentation.course_id, code__in=codes))
        params = selectors.skill_params(skills={s.code: s for s in skills})
        for skill in skills:
            change[skill.code] = _mastery_update(
                learner_id=attempt.learner_id,
                skill=skill,
                params=params[skill.code],
                observed=observed,
                now=now,
            )
            if presentation.reason == Presentation.Reason.REVIEW:
                _review_record(
                    learner_id=attempt.learner_id,
                    skill=skill,
                    rating=_rating(correct=correct, hints=attempt.hints_used),
                    now=now,
                )
    attempt.mastery_change = change
    attempt.mastery_applied_at = now
    attempt.save(update_fields=["mastery_change", "mastery_applied_at"])


def _mastery_update(
    *, learner_id: int, skill: Skill, params: bkt.BktParams, observed: bool, now: datetime
) -> list[float]:
    mastery, _created = SkillMastery.objects.select_for_update().get_or_create(
        learner_id=learner_id, skill=skill, defaults={"p_known": params.prior}
    )
    before = mastery.p_known
    mastery.p_known = bkt.update(before, observed, params)
    mastery.opportunities += 1
    mastery.correct += int(observed)
    newly_mastered = (
        mastery.mastered_at is None and mastery.p_known >= settings.LEARNING_MASTERY_THRESHOLD
    )
    if newly_mastered:
        mastery.mastered_at = now
    mastery.save()
    if newly_mastered:
        # Mastery counts as the first successful review: FSRS schedules the next one.
        _review_record(learner_id=learner_id, skill=skill, rating=Rating.Good, now=now)
    return [round(before, 4), round(mastery.p_known, 4)]


def _rating(*, correct: bool, hints: int) -> Rating:
    if not correct:
        return Rating.Again
    return Rating.Hard if hints else Rating.Good


def _review_record(*, learner_id: int, skill: Skill, rating: Rating, now: datetime) -> ReviewCard:
    row = ReviewCard.objects.select_for_update().filter(learner_id=learner_id, skill=skill).first()
    card = Card.from_dict(row.card) if row else Card(card_id=skill.id, due=_utc(now))
    card, _log = _scheduler().review_card(card, rating, review_datetime=_utc(now))
    if row is None:
        row = ReviewCard(learner_id=learner_id, skill=skill)
    row.card = card.to_dict()
    row.due = card.due
    row.reviews += 1
    row.lapses += int(rating == Rating.Again)
    row.save()
    return row


# --- grading -----------------------------------------------------------------------------


def attempt_grade_record(*, attempt_id: int, grade: Grade) -> Attempt | None:
    """Store a free-response grade and move mastery. Idempotent: an attempt already
    graded (a redelivered or repeated task) is left as it is."""
    now = timezone.now()
    with transaction.atomic():
        attempt = Attempt.objects.select_for_update().filter(pk=attempt_id).first()
        if attempt is None or attempt.status != Attempt.Status.GRADING:
            return attempt
        presentation = (
            Presentation.objects.select_for_update()
            .select_related("exercise_version")
            .get(pk=attempt.presentation_id)
        )
        attempt.status = Attempt.Status.CORRECT if grade.passed else Attempt.Status.INCORRECT
        attempt.score = grade.score
        attempt.feedback = grade.feedback
        attempt.graded_at = now
        attempt.save(update_fields=["status", "score", "feedback", "graded_at"])
        _outcome_apply(attempt=attempt, presentation=presentation, now=now)
        _notify_graded_on_commit(attempt)
    return attempt


def attempt_grading_fail(*, attempt_id: int, reason: str) -> Attempt | None:
    """Give up grading after the last retry: the answer stays stored (the teacher sees
    it); the learner is told and may go on."""
    with transaction.atomic():
        attempt = Attempt.objects.select_for_update().filter(pk=attempt_id).first()
        if attempt is None or attempt.status != Attempt.Status.GRADING:
            return attempt
        attempt.status = Attempt.Status.GRADING_FAILED
        attempt.feedback = _(
            "Your answer is saved, but the tutor could not grade it right now. "
            "Your teacher can see it."
        )
        attempt.graded_at = timezone.now()
        attempt.save(update_fields=["status", "feedback", "graded_at"])
        Presentation.objects.filter(pk=attempt.presentation_id, closed_at__isnull=True).update(
            closed_at=attempt.graded_at
        )
        logger.warning("grading of attempt %s failed: %s", attempt_id, reason)
        _notify_graded_on_commit(attempt)
    return attempt


def _notify_graded_on_commit(attempt: Attempt) -> None:
    event = {
        "type": "attempt.graded",
        "attempt": attempt.id,
        "presentation": attempt.presentation_id,
        "status": attempt.status,
    }
    group = learner_group_name(attempt.learner_id)

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group, event)

    transaction.on_commit(send)


# --- fitting -----------------------------------------------------------------------------


def skill_params_fit(*, skill: Skill) -> SkillParams | None:
    """Fit BKT parameters for `skill` by EM from learners' first attempts, once it has
    enough data (settings.LEARNING_BKT_FIT_MIN_LEARNERS / _MIN_OBSERVATIONS); None if
    not yet. Repeating it on the same data gives the same parameters."""
    rows = (
        Attempt.objects.filter(
            course_id=skill.course_id,
            is_first=True,
            status__in=[Attempt.Status.CORRECT, Attempt.Status.INCORRECT],
            exercise__skills=skill,
        )
        .order_by("learner_id", "learner_pseudonym", "created_at", "id")
        .values_list("learner_id", "learner_pseudonym", "status", "hints_used")
    )
    # An erased learner's attempts have no learner but keep one pseudonym (privacy).
    sequences: dict[tuple[int | None, str], list[int]] = {}
    for learner_id, pseudonym, status, hints in rows:
        sequences.setdefault((learner_id, pseudonym), []).append(
            int(status == Attempt.Status.CORRECT and hints == 0)
        )
    observations = sum(len(s) for s in sequences.values())
    if (
        len(sequences) < settings.LEARNING_BKT_FIT_MIN_LEARNERS
        or observations < settings.LEARNING_BKT_FIT_MIN_OBSERVATIONS
    ):
        return None
    import numpy as np

    fit = bkt.fit_em([np.array(s, dtype=np.int8) for s in sequences.values()])
    params, _created = SkillParams.objects.update_or_create(
        skill=skill,
        defaults={
            "prior": fit.params.prior,
            "learn": fit.params.learn,
            "guess": fit.params.guess,
            "slip": fit.params.slip,
            "sequences": len(sequences),
            "observations": observations,
            "log_likelihood": fit.log_likelihood,
            "fitted_at": timezone.now(),
        },
    )
    return params
