import pytest

from learning.bkt import DEFAULT_PARAMS, BktParams
from learning.selection import Choice, Item, choose_next, is_mastered, ready_skills

# The demo course's skill graph.
PREREQUISITES = {
    "fraction-meaning": frozenset(),
    "equivalent-fractions": frozenset({"fraction-meaning"}),
    "add-fractions": frozenset({"equivalent-fractions"}),
    "one-step-equations": frozenset(),
    "two-step-equations": frozenset({"one-step-equations"}),
    "equations-with-fractions": frozenset({"two-step-equations", "add-fractions"}),
}
MEANING = Item(id=1, skills=("fraction-meaning",), position=0)
EQUIVALENT = Item(id=2, skills=("equivalent-fractions",), position=1)
ADD = Item(id=3, skills=("add-fractions",), position=2)
ADD_EQUIVALENT = Item(id=4, skills=("add-fractions", "equivalent-fractions"), position=3)
ONE_STEP = Item(id=5, skills=("one-step-equations",), position=4)
TWO_STEP = Item(id=6, skills=("two-step-equations",), position=5)
WITH_FRACTIONS = Item(id=7, skills=("equations-with-fractions",), position=6)
COURSE = (MEANING, EQUIVALENT, ADD, ADD_EQUIVALENT, ONE_STEP, TWO_STEP, WITH_FRACTIONS)
ALL_MASTERED = dict.fromkeys(PREREQUISITES, 0.99)


def choose(**kwargs) -> Choice | None:
    kwargs.setdefault("items", COURSE)
    kwargs.setdefault("mastery", {})
    kwargs.setdefault("params", {})
    kwargs.setdefault("prerequisites", PREREQUISITES)
    return choose_next(**kwargs)


def test_is_mastered_at_the_threshold():
    assert is_mastered(0.95, 0.95) is True
    assert is_mastered(0.9499, 0.95) is False


def test_ready_skills_need_mastered_prerequisites():
    ready = ready_skills(
        skills=PREREQUISITES,
        mastery={"fraction-meaning": 0.97},
        params={},
        prerequisites=PREREQUISITES,
        threshold=0.95,
    )

    assert ready == {"equivalent-fractions", "one-step-equations"}


def test_a_new_learner_starts_with_the_first_skill_without_prerequisites():
    # every ready skill predicts 0.2 * 0.9 + 0.8 * 0.2 = 0.34: a tie, broken by position
    choice = choose()

    assert choice == Choice(item=MEANING, reason="practice", predicted_success=pytest.approx(0.34))


def test_prerequisites_are_respected():
    # given equivalent fractions on 0.85 (0.85 * 0.9 + 0.15 * 0.2 = 0.795, inside the band,
    # first in the course) while its prerequisite is on 0.5 (0.45 + 0.1 = 0.55)
    equivalent_first = Item(id=2, skills=("equivalent-fractions",), position=0)
    meaning_later = Item(id=1, skills=("fraction-meaning",), position=5)
    mastery = {"fraction-meaning": 0.5, "equivalent-fractions": 0.85}

    choice = choose(items=(equivalent_first, meaning_later, ONE_STEP), mastery=mastery)

    assert choice.item == meaning_later
    assert choice.predicted_success == pytest.approx(0.55)


def test_mastered_skills_are_skipped():
    choice = choose(mastery={"fraction-meaning": 0.97})

    assert choice.item == EQUIVALENT
    assert choice.reason == "practice"


def test_the_target_band_beats_course_order():
    # given one-step equations new (0.34, first in the list) and equivalent fractions on 0.8:
    # 0.8 * 0.9 + 0.2 * 0.2 = 0.76, inside 0.70-0.85
    items = (
        Item(id=5, skills=("one-step-equations",), position=0),
        Item(id=2, skills=("equivalent-fractions",), position=9),
    )
    mastery = {"fraction-meaning": 0.97, "equivalent-fractions": 0.8}

    choice = choose(items=items, mastery=mastery)

    assert choice.item.id == 2
    assert choice.predicted_success == pytest.approx(0.76)


def test_outside_the_band_the_closest_item_wins():
    # equivalent fractions on 0.93: 0.837 + 0.014 = 0.851, 0.001 above the band;
    # one-step equations new: 0.34, 0.36 below it
    items = (
        Item(id=5, skills=("one-step-equations",), position=0),
        Item(id=2, skills=("equivalent-fractions",), position=9),
    )
    mastery = {"fraction-meaning": 0.97, "equivalent-fractions": 0.93}

    choice = choose(items=items, mastery=mastery)

    assert choice.item.id == 2
    assert choice.predicted_success == pytest.approx(0.851)


def test_the_last_item_never_comes_twice_in_a_row():
    choice = choose(last_item_id=MEANING.id)

    assert choice.item == ONE_STEP  # the next ready skill by position


def test_the_last_item_is_not_returned_even_when_it_is_the_only_one_left():
    choice = choose(items=(MEANING,), last_item_id=MEANING.id)

    assert choice is None


def test_a_twin_of_the_last_item_is_chosen_instead_of_it():
    twin = Item(id=11, skills=("fraction-meaning",), position=1)

    choice = choose(items=(MEANING, twin), last_item_id=MEANING.id)

    assert choice.item == twin


def test_reviews_and_practice_alternate_while_reviews_are_due():
    # given fraction meaning mastered and due for review, one-step equations to learn
    mastery = {"fraction-meaning": 0.97}
    due = frozenset({"fraction-meaning"})
    items = (MEANING, Item(id=8, skills=("fraction-meaning",), position=1), ONE_STEP)

    # when the tutor asks four times, passing on what it gave
    picks = []
    last_id, last_was_review = None, False
    for _ in range(4):
        choice = choose(
            items=items,
            mastery=mastery,
            due_reviews=due,
            last_item_id=last_id,
            last_was_review=last_was_review,
        )
        picks.append((choice.item.id, choice.reason))
        last_id, last_was_review = choice.item.id, choice.reason == "review"

    # then
    assert picks == [(1, "review"), (5, "practice"), (1, "review"), (5, "practice")]


def test_a_review_prefers_an_item_whose_skills_are_all_mastered():
    mastery = {"fraction-meaning": 0.97, "equivalent-fractions": 0.96}
    due = frozenset({"equivalent-fractions"})

    choice = choose(mastery=mastery, due_reviews=due)

    # ADD_EQUIVALENT also practises equivalent fractions, but add-fractions is unmastered
    assert choice.item == EQUIVALENT
    assert choice.reason == "review"


def test_a_due_skill_that_is_not_mastered_is_practised_not_reviewed():
    choice = choose(due_reviews=frozenset({"fraction-meaning"}))

    assert choice.item == MEANING
    assert choice.reason == "practice"


def test_multi_skill_items_predict_the_product_of_their_skills():
    # given equivalent fractions mastered and add-fractions new:
    # (0.97 * 0.9 + 0.03 * 0.2) * (0.2 * 0.9 + 0.8 * 0.2) = 0.879 * 0.34 = 0.29886
    mastery = {"fraction-meaning": 0.97, "equivalent-fractions": 0.97}

    alone = choose(items=(ADD_EQUIVALENT, EQUIVALENT), mastery=mastery)
    add_later = Item(id=3, skills=("add-fractions",), position=9)
    against_single_skill = choose(items=(ADD_EQUIVALENT, add_later), mastery=mastery)

    assert alone.item == ADD_EQUIVALENT  # its unmastered skill makes it a candidate
    assert alone.predicted_success == pytest.approx(0.29886)
    # the single-skill item (0.34) is closer to the band, although later in the course
    assert against_single_skill.item == add_later


def test_multi_skill_items_wait_for_every_skills_prerequisites():
    # given add-fractions ready, but the item also practises equations with fractions,
    # whose prerequisite two-step equations is not mastered
    mastery = {"fraction-meaning": 0.97, "equivalent-fractions": 0.97}
    mixed = Item(id=9, skills=("add-fractions", "equations-with-fractions"), position=0)

    choice = choose(items=(mixed, ADD), mastery=mastery)

    assert choice.item == ADD


def test_nothing_to_do_when_everything_is_mastered():
    assert choose(mastery=ALL_MASTERED) is None


def test_a_due_review_is_given_even_right_after_a_review_when_nothing_else_is_left():
    choice = choose(
        mastery=ALL_MASTERED,
        due_reviews=frozenset({"two-step-equations"}),
        last_item_id=ONE_STEP.id,
        last_was_review=True,
    )

    assert choice.item == TWO_STEP
    assert choice.reason == "review"


def test_the_fallback_ignores_prerequisites_no_item_practises():
    # given a course whose only exercise needs a prerequisite nothing can teach
    choice = choose(items=(EQUIVALENT,))

    assert choice.item == EQUIVALENT
    assert choice.reason == "practice"


def test_the_fallback_still_excludes_the_last_item():
    twin = Item(id=12, skills=("equivalent-fractions",), position=2)

    choice = choose(items=(EQUIVALENT, twin), last_item_id=EQUIVALENT.id)

    assert choice.item == twin


def test_a_missing_mastery_falls_back_to_the_skills_prior():
    # given a skill most learners already know
    params = {"fraction-meaning": BktParams(prior=0.96, learn=0.1, guess=0.2, slip=0.1)}

    choice = choose(params=params)

    assert choice.item == EQUIVALENT  # fraction meaning counts as mastered
    assert params.get("equivalent-fractions", DEFAULT_PARAMS) is DEFAULT_PARAMS


def test_the_choice_does_not_depend_on_the_order_of_the_items():
    mastery = {"fraction-meaning": 0.97, "one-step-equations": 0.5}

    forward = choose(mastery=mastery)
    backward = choose(items=tuple(reversed(COURSE)), mastery=mastery)

    assert forward == backward


def test_a_target_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="target"):
        choose(target=(0.9, 0.7))
