"""The learner model's part of a student's personal data (privacy.registry):
presentations, attempts, mastery and review cards.

On erasure attempts are kept for course statistics (BKT fitting, exercise difficulty),
anonymised: no learner, no presentation, no answer or feedback text, and a random
pseudonym shared by the learner's attempts so that per-learner sequences still fit.
"""

import secrets

from accounts.models import User
from learning.models import Attempt, Presentation, ReviewCard, SkillMastery
from privacy.registry import Cutoffs, PersonalData


def _when(value):
    return value.isoformat() if value else None


def personal_data_export(*, user: User) -> PersonalData:
    data = PersonalData()
    data.parts["presentations"] = [
        {
            "id": p.id,
            "course_id": p.course_id,
            "lesson_id": p.lesson_id,
            "exercise_id": p.exercise_id,
            "exercise_version_id": p.exercise_version_id,
            "reason": p.reason,
            "predicted_success": p.predicted_success,
            "hints_revealed": p.hints_revealed,
            "solution_opened_at": _when(p.solution_opened_at),
            "shown_at": _when(p.shown_at),
            "closed_at": _when(p.closed_at),
        }
        for p in Presentation.objects.filter(learner=user).order_by("shown_at", "id")
    ]
    data.parts["attempts"] = [
        {
            "id": a.id,
            "presentation_id": a.presentation_id,
            "course_id": a.course_id,
            "exercise_id": a.exercise_id,
            "exercise_version_id": a.exercise_version_id,
            "answer": a.answer,
            "status": a.status,
            "score": a.score,
            "feedback": a.feedback,
            "hints_used": a.hints_used,
            "time_taken_ms": a.time_taken_ms,
            "is_first": a.is_first,
            "mastery_change": a.mastery_change,
            "created_at": _when(a.created_at),
            "graded_at": _when(a.graded_at),
        }
        for a in Attempt.objects.filter(learner=user).order_by("created_at", "id")
    ]
    data.parts["mastery"] = [
        {
            "skill": {"id": m.skill_id, "code": m.skill.code},
            "p_known": m.p_known,
            "opportunities": m.opportunities,
            "correct": m.correct,
            "mastered_at": _when(m.mastered_at),
            "updated_at": _when(m.updated_at),
        }
        for m in SkillMastery.objects.filter(learner=user).select_related("skill").order_by("id")
    ]
    data.parts["review_cards"] = [
        {
            "skill": {"id": c.skill_id, "code": c.skill.code},
            "card": c.card,
            "due": _when(c.due),
            "reviews": c.reviews,
            "lapses": c.lapses,
            "updated_at": _when(c.updated_at),
        }
        for c in ReviewCard.objects.filter(learner=user).select_related("skill").order_by("id")
    ]
    return data


def personal_data_erase(*, user: User) -> dict[str, int]:
    attempts = Attempt.objects.filter(learner=user)
    # An answer still being graded has no outcome to keep.
    in_flight, _ = attempts.filter(status=Attempt.Status.GRADING).delete()
    anonymised = attempts.update(
        learner=None,
        learner_pseudonym=secrets.token_hex(16),
        presentation=None,
        answer={},
        feedback="",
    )
    presentations, _ = Presentation.objects.filter(learner=user).delete()
    masteries, _ = SkillMastery.objects.filter(learner=user).delete()
    cards, _ = ReviewCard.objects.filter(learner=user).delete()
    return {
        "attempts_anonymised": anonymised,
        "attempts_deleted": in_flight,
        "presentations": presentations,
        "mastery": masteries,
        "review_cards": cards,
    }


def retention_purge(*, school_id: int | None, cutoffs: Cutoffs) -> dict[str, int]:
    """The learner model is the student's record of study: kept while the account is."""
    return {}
