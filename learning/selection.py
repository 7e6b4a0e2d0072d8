"""Choosing the next exercise from BKT mastery estimates.

Pure Python; no Django import. The caller (the learning services) loads the learner's
mastery estimates, the skills' BKT parameters, the prerequisite graph and the skills due for
review, and calls :func:`choose_next`; this module only decides.

The policy, in order:

1. **Review**, when a due skill is mastered, has an exercise, and the previous pick was not a
   review: reviews and practice alternate while reviews are due, so a long review queue
   never starves new learning. Besides the caller's due reviews, the prerequisites of a
   *stalled* skill are due for a re-check (see below).
2. **Practice**: exercises with at least one *ready* skill (not mastered, all prerequisites
   mastered) and no skill whose prerequisites are unmastered. Among them, the one whose
   predicted success lies in the target band (0.70-0.85 by default: hard enough to learn
   from, easy enough not to discourage), else the closest to the band, else the earliest in
   the course.
3. **Fallback**: any exercise with an unmastered skill, prerequisites ignored (the graph may
   block every skill, e.g. a prerequisite no exercise practises).
4. **Review again** (even right after a review) when nothing is left to practise.
5. Otherwise None: everything is mastered and nothing is due.

Re-checking prerequisites. BKT revises a skill's estimate only from that skill's own answers,
so a prerequisite it wrongly believes mastered (say, after lucky guesses) stays mastered while
the skill that needs it stalls, and the learner keeps practising a skill they cannot learn
yet. So when the caller passes ``opportunities`` (first attempts per skill), a ready skill
still below the threshold after ``stall_after`` or more opportunities is *stalled*, and its
prerequisites are due for review (a re-check) while their estimate is below a stricter level,
``1 - (1 - threshold) / 2**k`` with ``k = opportunities // stall_after``: the longer the
stall, the stronger the evidence against the prerequisites, the less doubt about them is
tolerated. A wrong answer on a re-check drops the prerequisite under the threshold, so it is
practised again before the stalled skill (no longer ready). A right answer multiplies the odds
that the prerequisite is known by (1 - slip) / guess, more than 2 for any usual fit, so it
ends the re-check until the skill stalls ``stall_after`` opportunities more: a learner who
does know the prerequisites pays about one review per ``stall_after`` practice items. Without
``opportunities`` nothing is re-checked.

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


def stalled_prerequisites(
    *,
    skills: Iterable[str],
    mastery: Mapping[str, float],
    params: Mapping[str, BktParams],
    prerequisites: Mapping[str, frozenset[str]],
    opportunities: Mapping[str, int],
    threshold: float = 0.95,
    stall_after: int = 4,
) -> frozenset[str]:
    """The prerequisites to re-check because a ready skill among ``skills`` has stalled (see
    the module docstring); ``opportunities`` maps skill codes to first attempts so far
    (missing: none). :func:`choose_next` treats them as due for review; a caller that gives
    it only some exercises (one lesson's) can use this to add those skills' exercises."""
    if stall_after < 1:
        raise ValueError(f"stall_after must be at least 1, got {stall_after!r}")

    def known(skill: str) -> float:
        return skill_mastery(skill, mastery=mastery, params=params)

    ready = ready_skills(
        skills=skills,
        mastery=mastery,
        params=params,
        prerequisites=prerequisites,
        threshold=threshold,
    )
    recheck: set[str] = set()
    for skill in ready:
        stalls = opportunities.get(skill, 0) // stall_after
        if stalls == 0:
            continue
        required = 1.0 - (1.0 - threshold) / 2.0**stalls
        recheck.update(
            prereq for prereq in prerequisites.get(skill, frozenset()) if known(prereq) < required
        )
    return frozenset(recheck)


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
    opportunities: Mapping[str, int] | None = None,
    stall_after: int = 4,
) -> Choice | None:
    """The next exercise for one learner, or None when there is nothing to do now.

    ``mastery`` maps skill codes to P(known) (missing: the skill's prior); ``params`` maps
    skill codes to BKT parameters (missing: DEFAULT_PARAMS); ``prerequisites`` maps a skill
    to the skills it needs; ``due_reviews`` are the skills whose review is due now;
    ``opportunities`` maps skill codes to first attempts so far (None: prerequisites are
    never re-checked), and a ready skill stalls after ``stall_after`` of them. See the
    module docstring for the policy. None means: every skill of ``items`` is mastered and no
    review can be given (the caller says the lesson is done, or to come back later).
    """
    low, high = target
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"target must be an interval inside [0, 1], got {target!r}")
    if stall_after < 1:
        raise ValueError(f"stall_after must be at least 1, got {stall_after!r}")

    skills = {skill for item in items for skill in item.skills}
    skills |= {prereq for skill in skills for prereq in prerequisites.get(skill, frozenset())}
    p_known = {skill: skill_mastery(skill, mastery=mastery, params=params) for skill in skills}
    mastered = {skill for skill, p in p_known.items() if is_mastered(p, threshold)}
    pool = [item for item in items if item.id != last_item_id]
    if opportunities is not None:
        due_reviews = due_reviews | stalled_prerequisites(
            skills=skills,
            mastery=p_known,
            params=params,
            prerequisites=prerequisites,
            opportunities=opportunities,
            threshold=threshold,
            stall_after=stall_after,
        )

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
