import pytest

from learning.bkt import DEFAULT_PARAMS, BktParams, update
from learning.selection import (
    Choice,
    Item,
    choose_next,
    is_mastered,
    ready_skills,
    stalled_prerequisites,
)

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


# Re-checking the prerequisites of a stalled skill. Default parameters throughout: prior 0.2,
# learn 0.15, guess 0.2, slip 0.1; threshold 0.95.
MEANING_TWIN = Item(id=21, skills=("fraction-meaning",), position=0)
# fraction meaning just past the threshold, equivalent fractions far below it
STALLING = {"fraction-meaning": 0.96, "equivalent-fractions": 0.3}


def test_a_stalled_skill_sends_the_learner_back_to_its_prerequisite():
    # given equivalent fractions ready and still at 0.3 after 4 opportunities: its
    # prerequisite must now reach 1 - 0.05 / 2 = 0.975, and 0.96 does not
    choice = choose(mastery=STALLING, opportunities={"equivalent-fractions": 4})

    # 0.96 * 0.9 + 0.04 * 0.2 = 0.872
    assert choice == Choice(item=MEANING, reason="review", predicted_success=pytest.approx(0.872))


@pytest.mark.parametrize(
    "opportunities",
    [None, {}, {"equivalent-fractions": 3}],
    ids=["not passed", "none yet", "below stall_after"],
)
def test_no_re_check_before_the_skill_stalls(opportunities):
    choice = choose(mastery=STALLING, opportunities=opportunities)

    # the same as before re-checks existed: equivalent fractions (0.41) is closest to the band
    assert choice.item == EQUIVALENT
    assert choice.reason == "practice"


def test_stall_after_sets_when_a_skill_stalls():
    choice = choose(mastery=STALLING, opportunities={"equivalent-fractions": 2}, stall_after=2)

    assert choice.item == MEANING
    assert choice.reason == "review"


@pytest.mark.parametrize(
    ("opportunities", "prerequisite", "reason"),
    [
        (4, 0.98, "practice"),  # 0.98 >= 1 - 0.05 / 2 = 0.975
        (7, 0.98, "practice"),  # still one stall: 7 // 4 = 1
        (8, 0.98, "review"),  # two stalls: 0.98 < 1 - 0.05 / 4 = 0.9875
        (8, 0.99, "practice"),
    ],
)
def test_the_longer_the_stall_the_surer_the_prerequisite_must_be(
    opportunities, prerequisite, reason
):
    mastery = {"fraction-meaning": prerequisite, "equivalent-fractions": 0.3}

    choice = choose(mastery=mastery, opportunities={"equivalent-fractions": opportunities})

    assert choice.reason == reason


def test_re_checks_and_practice_alternate():
    choice = choose(
        mastery=STALLING,
        opportunities={"equivalent-fractions": 4},
        last_item_id=ONE_STEP.id,
        last_was_review=True,
    )

    assert choice.item == EQUIVALENT
    assert choice.reason == "practice"


def test_a_wrong_answer_on_the_re_check_puts_the_prerequisite_back_into_practice():
    # given the re-check of fraction meaning answered wrongly:
    # 0.96 * 0.1 / (0.096 + 0.04 * 0.8) = 0.75, then + 0.25 * 0.15 = 0.7875
    mastery = {"fraction-meaning": update(0.96, False, DEFAULT_PARAMS), "equivalent-fractions": 0.3}
    assert mastery["fraction-meaning"] == pytest.approx(0.7875)

    choice = choose(
        items=(MEANING, MEANING_TWIN, EQUIVALENT, ONE_STEP),
        mastery=mastery,
        opportunities={"fraction-meaning": 1, "equivalent-fractions": 4},
        last_item_id=MEANING.id,
        last_was_review=True,
    )

    # equivalent fractions is no longer ready; 0.7875 * 0.9 + 0.2125 * 0.2 = 0.75125
    assert choice == Choice(
        item=MEANING_TWIN, reason="practice", predicted_success=pytest.approx(0.75125)
    )


def test_a_right_answer_on_the_re_check_ends_it_until_the_skill_stalls_further():
    # 0.96 * 0.9 / (0.864 + 0.008) = 0.99083, then + 0.00917 * 0.15 = 0.99220: past 0.975 and
    # 0.9875 (8 opportunities), not past 1 - 0.05 / 8 = 0.99375 (12)
    mastery = {"fraction-meaning": update(0.96, True, DEFAULT_PARAMS), "equivalent-fractions": 0.3}

    after = {
        n: choose(mastery=mastery, opportunities={"equivalent-fractions": n}) for n in (5, 8, 12)
    }

    assert mastery["fraction-meaning"] == pytest.approx(0.99220, abs=1e-5)
    assert {n: choice.reason for n, choice in after.items()} == {
        5: "practice",
        8: "practice",
        12: "review",
    }


def test_a_learner_stranded_behind_a_false_prerequisite_is_sent_back_to_it():
    # given a learner the tutor wrongly believes to know fraction meaning, who answers
    # everything wrongly (they know neither skill)
    items = (MEANING, MEANING_TWIN, EQUIVALENT, Item(id=22, skills=EQUIVALENT.skills, position=1))
    mastery = {"fraction-meaning": 0.96}
    opportunities: dict[str, int] = {}
    picks = []
    last_id, last_was_review = None, False

    # when the tutor asks seven times, updating the estimates after each wrong answer
    for _ in range(7):
        choice = choose(
            items=items,
            mastery=mastery,
            opportunities=opportunities,
            last_item_id=last_id,
            last_was_review=last_was_review,
        )
        picks.append((choice.item.id, choice.reason))
        for skill in choice.item.skills:
            mastery[skill] = update(mastery.get(skill, 0.2), False, DEFAULT_PARAMS)
            opportunities[skill] = opportunities.get(skill, 0) + 1
        last_id, last_was_review = choice.item.id, choice.reason == "review"

    # then after four opportunities of equivalent fractions comes a re-check of fraction
    # meaning, and after the wrong answer there fraction meaning is practised again
    assert picks == [
        (2, "practice"),
        (22, "practice"),
        (2, "practice"),
        (22, "practice"),
        (1, "review"),
        (21, "practice"),
        (1, "practice"),
    ]


def test_only_ready_skills_stall():
    # add-fractions waits for equivalent fractions; fraction meaning is mastered
    rechecked = stalled_prerequisites(
        skills=PREREQUISITES,
        mastery=STALLING,
        params={},
        prerequisites=PREREQUISITES,
        opportunities={"add-fractions": 20, "fraction-meaning": 20},
    )

    assert rechecked == frozenset()


def test_only_the_prerequisites_below_the_stricter_level_are_re_checked():
    # equations with fractions stalled once: 1 - 0.05 / 2 = 0.975
    mastery = {
        "fraction-meaning": 0.99,
        "equivalent-fractions": 0.99,
        "add-fractions": 0.96,
        "one-step-equations": 0.99,
        "two-step-equations": 0.99,
    }

    rechecked = stalled_prerequisites(
        skills=PREREQUISITES,
        mastery=mastery,
        params={},
        prerequisites=PREREQUISITES,
        opportunities={"equations-with-fractions": 5},
    )
    choice = choose(mastery=mastery, opportunities={"equations-with-fractions": 5})

    assert rechecked == {"add-fractions"}
    assert choice.item == ADD  # a pure review, earlier than ADD_EQUIVALENT
    assert choice.reason == "review"


def test_a_re_check_never_repeats_the_last_item():
    choice = choose(
        mastery=STALLING, opportunities={"equivalent-fractions": 4}, last_item_id=MEANING.id
    )

    assert choice.item == EQUIVALENT
    assert choice.reason == "practice"


def test_nothing_to_do_when_everything_is_mastered_whatever_the_opportunities():
    assert choose(mastery=ALL_MASTERED, opportunities=dict.fromkeys(PREREQUISITES, 50)) is None


def test_a_stall_after_below_one_is_refused():
    with pytest.raises(ValueError, match="stall_after"):
        choose(stall_after=0)
    with pytest.raises(ValueError, match="stall_after"):
        stalled_prerequisites(
            skills=PREREQUISITES,
            mastery={},
            params={},
            prerequisites=PREREQUISITES,
            opportunities={},
            stall_after=0,
        )
