"""Choosing the next exercise from BKT mastery estimates.

Pure Python; no Django import. The caller (the learning services) loads the learner's
mastery estimates, the skills' BKT parameters, the prerequisite graph and the skills due for
review, and calls :func:`choose_next`; this module only decides.

The policy, in order:

1. **Review**, when a due skill is mastered, has an exercise, and the previous pick was not a
   review: reviews and practice alternate while reviews are due, so a long review queue
   never starves new learning.
2. **Practice**: exercises with at least one *ready* skill (not mastered, all prerequisites
   mastered) and no skill whose prerequisites are unmastered. Among them, the one whose
   predicted success lies in the target band (0.70-0.85 by default: hard enough to learn
   from, easy enough not to discourage), else the closest to the band, else the earliest in
   the course.
3. **Fallback**: any exercise with an unmastered skill, prerequisites ignored (the graph may
   block every skill, e.g. a prerequisite no exercise practises).
4. **Review again** (even right after a review) when nothing is left to practise.
5. Otherwise None: everything is mastered and nothing is due.

The item with id ``last_item_id`` is never returned, so the same exercise never comes twice
in a row. The result depends only on the arguments (ties fall to position, then id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from learning.bkt import DEFAULT_PARAMS, BktParams, predict_correct

PRACTICE = "practice"
REVIEW = "review"


@dataclass(frozen=True)
class Item:
    """An exercise as the selector sees it."""

    id: int  # an exercise id
    skills: tuple[str, ...]  # skill codes it practises (one or more)
    position: int = 0  # order in the course (tie-breaker)


@dataclass(frozen=True)
class Choice:
    item: Item
    reason: str  # PRACTICE | REVIEW
    predicted_success: float


def is_mastered(p: float, threshold: float) -> bool:
    """A skill counts as mastered once P(known) reaches the threshold."""
    return p >= threshold


def skill_mastery(
    skill: str, *, mastery: Mapping[str, float], params: Mapping[str, BktParams]
) -> float:
    """P(known) for a skill; a skill never practised is known with its prior probability."""
    if skill in mastery:
        return mastery[skill]
    return params.get(skill, DEFAULT_PARAMS).prior


def predicted_success(
    item: Item, *, mastery: Mapping[str, float], params: Mapping[str, BktParams]
) -> float:
    """P(correct answer) to an item: every one of its skills must be applied correctly
    (conjunctive), each independently by BKT."""
    success = 1.0
    for skill in item.skills:
        p = skill_mastery(skill, mastery=mastery, params=params)
        success *= predict_correct(p, params.get(skill, DEFAULT_PARAMS))
    return success


def ready_skills(
    *,
    skills: Iterable[str],
    mastery: Mapping[str, float],
    params: Mapping[str, BktParams],
    prerequisites: Mapping[str, frozenset[str]],
    threshold: float,
) -> frozenset[str]:
    """The skills among ``skills`` that are not mastered and whose prerequisites all are."""

    def mastered(skill: str) -> bool:
        return is_mastered(skill_mastery(skill, mastery=mastery, params=params), threshold)

    return frozenset(
        skill
        for skill in skills
        if not mastered(skill)
        and all(mastered(prereq) for prereq in prerequisites.get(skill, frozenset()))
    )


def choose_next(
    *,
    items: Sequence[Item],
    mastery: Mapping[str, float],
    params: Mapping[str, BktParams],
    prerequisites: Mapping[str, frozenset[str]],
    due_reviews: frozenset[str] = frozenset(),
    last_item_id: int | None = None,
    last_was_review: bool = False,
    threshold: float = 0.95,
    target: tuple[float, float] = (0.70, 0.85),
) -> Choice | None:
    """The next exercise for one learner, or None when there is nothing to do now.

    ``mastery`` maps skill codes to P(known) (missing: the skill's prior); ``params`` maps
    skill codes to BKT parameters (missing: DEFAULT_PARAMS); ``prerequisites`` maps a skill
    to the skills it needs; ``due_reviews`` are the skills whose review is due now. See the
    module docstring for the policy. None means: every skill of ``items`` is mastered and no
    review can be given (the caller says the lesson is done, or to come back later).
    """
    low, high = target
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"target must be an interval inside [0, 1], got {target!r}")

    skills = {skill for item in items for skill in item.skills}
    skills |= {prereq for skill in skills for prereq in prerequisites.get(skill, frozenset())}
    p_known = {skill: skill_mastery(skill, mastery=mastery, params=params) for skill in skills}
    mastered = {skill for skill, p in p_known.items() if is_mastered(p, threshold)}
    pool = [item for item in items if item.id != last_item_id]

    def review() -> Choice | None:
        # Preferably a pure review (every skill of the item mastered), then the earliest.
        due = due_reviews & mastered
        candidates = [item for item in pool if due.intersection(item.skills)]
        if not candidates:
            return None
        item = min(
            candidates,
            key=lambda item: (len(set(item.skills) - mastered), item.position, item.id),
        )
        success = predicted_success(item, mastery=p_known, params=params)
        return Choice(item=item, reason=REVIEW, predicted_success=success)

    if not last_was_review and (choice := review()) is not None:
        return choice

    unmastered = [item for item in pool if not mastered.issuperset(item.skills)]
    practice = [
        item
        for item in unmastered
        if all(mastered.issuperset(prerequisites.get(skill, frozenset())) for skill in item.skills)
    ]
    candidates = practice or unmastered  # the fallback ignores prerequisites
    if candidates:
        scored = [
            (_distance(predicted_success(item, mastery=p_known, params=params), low, high), item)
            for item in candidates
        ]
        _, item = min(scored, key=lambda pair: (pair[0], pair[1].position, pair[1].id))
        success = predicted_success(item, mastery=p_known, params=params)
        return Choice(item=item, reason=PRACTICE, predicted_success=success)

    return review()


def _distance(value: float, low: float, high: float) -> float:
    """How far ``value`` lies outside [low, high]; 0 inside."""
    if value < low:
        return low - value
    if value > high:
        return value - high
    return 0.0
