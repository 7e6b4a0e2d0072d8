"""The learner model's services: attempts, mastery, hints, solutions, reviews, grading."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from common.errors import ApplicationError
from learning import bkt, selectors, services
from learning.grading import Grade
from learning.models import Attempt, Presentation, ReviewCard, SkillMastery, SkillParams
from tests.learning.conftest import free_response_exercise

pytestmark = pytest.mark.django_db


def start(world, lesson=None):
    lesson = lesson or world.lesson
    cmap = selectors.course_map(course=world.course)
    return services.presentation_for_lesson(learner=world.student, lesson=lesson, cmap=cmap)


def test_first_exercise_targets_the_skill_whose_prerequisites_are_met(world):
    # given a new learner: skill b requires a, nothing mastered
    # when the lesson page asks for an exercise
    presentation = start(world)
    # then it practises skill a (not b), first in course order
    assert presentation.exercise_id == world.exercises[0].id
    assert presentation.reason == Presentation.Reason.PRACTICE
    # and asking again returns the same open exercise, not a new one
    assert start(world).id == presentation.id
    assert Presentation.objects.count() == 1


def test_correct_first_attempt_moves_mastery_by_bkt_and_closes_the_exercise(world):
    presentation = start(world)
    # when
    result = services.attempt_submit(presentation=presentation, response="0.75")
    # then the attempt is stored with everything analytics need
    attempt = Attempt.objects.get()
    assert result.attempt == attempt
    assert (attempt.status, attempt.score, attempt.is_first, attempt.hints_used) == (
        "correct",
        1.0,
        True,
        0,
    )
    assert attempt.answer == "0.75"
    assert attempt.exercise_id == world.exercises[0].id
    assert attempt.time_taken_ms >= 0
    # and mastery moved exactly as one BKT step from the prior
    expected = bkt.update(bkt.DEFAULT_PARAMS.prior, True, bkt.DEFAULT_PARAMS)
    mastery = SkillMastery.objects.get(learner=world.student, skill=world.skill_a)
    assert mastery.p_known == pytest.approx(expected)
    assert attempt.mastery_change == {"a": [0.2, round(expected, 4)]}
    presentation.refresh_from_db()
    assert presentation.closed_at is not None


def test_wrong_answer_keeps_exercise_open_and_only_the_first_try_counts(world):
    presentation = start(world)
    services.attempt_submit(presentation=presentation, response="0.5")
    after_wrong = SkillMastery.objects.get(skill=world.skill_a).p_known
    # when the learner retries and gets it right
    services.attempt_submit(presentation=presentation, response="0.75")
    # then the retry is stored but does not move mastery (it came after feedback)
    assert list(Attempt.objects.values_list("status", "is_first")) == [
        ("incorrect", True),
        ("correct", False),
    ]
    assert SkillMastery.objects.get(skill=world.skill_a).p_known == after_wrong
    assert after_wrong == pytest.approx(bkt.update(0.2, False, bkt.DEFAULT_PARAMS))


def test_malformed_answer_is_refused_and_stores_nothing(world):
    presentation = start(world)
    with pytest.raises(ApplicationError):
        services.attempt_submit(presentation=presentation, response="banana")
    assert Attempt.objects.count() == 0
    assert SkillMastery.objects.count() == 0


def test_answer_to_a_finished_exercise_is_refused(world):
    presentation = start(world)
    services.attempt_submit(presentation=presentation, response="0.75")
    presentation.refresh_from_db()
    with pytest.raises(ApplicationError):
        services.attempt_submit(presentation=presentation, response="0.75")
    assert Attempt.objects.count() == 1


def test_hint_before_first_try_makes_it_count_as_not_known(world):
    presentation = start(world)
    assert services.hint_reveal(presentation=presentation) == 1
    with pytest.raises(ApplicationError):  # only one hint authored
        services.hint_reveal(presentation=presentation)
    services.attempt_submit(presentation=presentation, response="0.75")
    attempt = Attempt.objects.get()
    assert (attempt.status, attempt.hints_used) == ("correct", 1)
    expected = bkt.update(0.2, False, bkt.DEFAULT_PARAMS)
    assert SkillMastery.objects.get(skill=world.skill_a).p_known == pytest.approx(expected)


def test_solution_opens_only_after_a_real_attempt_or_the_last_hint(world):
    presentation = start(world)
    with pytest.raises(ApplicationError):
        services.solution_open(presentation=presentation)
    presentation.refresh_from_db()
    assert presentation.solution_opened_at is None
    # after the last hint it may be opened, and the opening is recorded once
    services.hint_reveal(presentation=presentation)
    services.solution_open(presentation=presentation)
    first = presentation.solution_opened_at
    assert first is not None
    services.solution_open(presentation=presentation)
    assert presentation.solution_opened_at == first


def test_solution_opens_after_an_attempt(world):
    presentation = start(world)
    services.attempt_submit(presentation=presentation, response="1")
    services.solution_open(presentation=presentation)
    assert presentation.solution_opened_at is not None


def test_never_the_same_exercise_twice_in_a_row(world):
    shown = []
    presentation = start(world)
    for _ in range(4):
        shown.append(presentation.exercise_id)
        services.attempt_submit(presentation=presentation, response="0.5")  # wrong
        presentation = services.presentation_next(
            learner=world.student,
            lesson=world.lesson,
            cmap=selectors.course_map(course=world.course),
        )
    assert all(a != b for a, b in itertools.pairwise(shown))
    # skill b stays locked while a is not mastered
    assert world.exercises[2].id not in shown


def test_mastering_a_unlocks_b_and_schedules_a_review_with_fsrs(world):
    # when the learner answers skill-a exercises right until a is mastered
    cmap = selectors.course_map(course=world.course)
    presentation = start(world)
    for _ in range(5):
        if presentation.exercise.skills.first() != world.skill_a:
            break
        services.attempt_submit(presentation=presentation, response="0.75")
        presentation = services.presentation_next(
            learner=world.student, lesson=world.lesson, cmap=cmap
        )
    mastery = SkillMastery.objects.get(skill=world.skill_a)
    assert mastery.p_known >= 0.95
    assert mastery.mastered_at is not None
    # then skill b is practised next
    assert presentation.exercise_id == world.exercises[2].id
    # and a review card for a is due in the future, scheduled by FSRS
    card = ReviewCard.objects.get(learner=world.student, skill=world.skill_a)
    assert card.due > timezone.now() + timedelta(hours=12)
    assert card.reviews == 1
    assert card.card["stability"] > 0


def test_due_review_is_interleaved_and_updates_the_card(world):
    # given skill a mastered with a review that is due now
    SkillMastery.objects.create(
        learner=world.student, skill=world.skill_a, p_known=0.99, mastered_at=timezone.now()
    )
    services._review_record(
        learner_id=world.student.id,
        skill=world.skill_a,
        rating=services.Rating.Good,
        now=timezone.now() - timedelta(days=30),
    )
    card = ReviewCard.objects.get()
    assert card.due <= timezone.now()
    # when the next exercise is chosen
    presentation = start(world)
    # then it is a review of a
    assert presentation.reason == Presentation.Reason.REVIEW
    assert presentation.exercise.skills.first() == world.skill_a
    services.attempt_submit(presentation=presentation, response="0.75")
    card.refresh_from_db()
    assert card.reviews == 2
    assert card.due > timezone.now()
    # and the next pick is practice again (reviews alternate with practice)
    nxt = services.presentation_next(
        learner=world.student, lesson=world.lesson, cmap=selectors.course_map(course=world.course)
    )
    assert nxt.reason == Presentation.Reason.PRACTICE


def test_lesson_has_nothing_left_when_all_skills_are_mastered(world):
    for skill in (world.skill_a, world.skill_b):
        SkillMastery.objects.create(learner=world.student, skill=skill, p_known=0.99)
    assert start(world) is None
    cmap = selectors.course_map(course=world.course)
    assert services.course_next_lesson(learner=world.student, cmap=cmap) is None


# --- free response grading -------------------------------------------------------------


def test_free_response_is_stored_as_grading_and_grade_is_idempotent(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    lesson, exercise = free_response_exercise(world)
    queued = []
    monkeypatch.setattr("learning.tasks.grade_attempt.delay", queued.append)
    presentation = start(world, lesson)
    assert presentation.exercise_id == exercise.id
    with pytest.raises(ApplicationError):
        services.attempt_submit(presentation=presentation, response="   ")
    # when the student answers: saved first, grading queued only after commit
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.attempt_submit(presentation=presentation, response="Multiply both by 2.")
        assert queued == []
    attempt = Attempt.objects.get()
    assert attempt.status == Attempt.Status.GRADING
    assert len(callbacks) == 1
    assert queued == [attempt.id]
    assert SkillMastery.objects.count() == 0
    # when the grade is recorded twice (a redelivered task)
    grade = Grade(score=0.8, passed=True, feedback="Good: you scaled both parts.")
    services.attempt_grade_record(attempt_id=attempt.id, grade=grade)
    services.attempt_grade_record(attempt_id=attempt.id, grade=grade)
    # then mastery moved once
    attempt.refresh_from_db()
    assert (attempt.status, attempt.score) == ("correct", 0.8)
    mastery = SkillMastery.objects.get(skill=world.skill_a)
    assert mastery.opportunities == 1
    assert mastery.p_known == pytest.approx(bkt.update(0.2, True, bkt.DEFAULT_PARAMS))


def test_grading_failure_keeps_the_answer_and_frees_the_learner(world, monkeypatch):
    lesson, _exercise = free_response_exercise(world)
    monkeypatch.setattr("learning.tasks.grade_attempt.delay", lambda _id: None)
    presentation = start(world, lesson)
    services.attempt_submit(presentation=presentation, response="Because.")
    attempt = Attempt.objects.get()
    services.attempt_grading_fail(attempt_id=attempt.id, reason="worker down")
    attempt.refresh_from_db()
    presentation.refresh_from_db()
    assert attempt.status == Attempt.Status.GRADING_FAILED
    assert attempt.answer == "Because."
    assert presentation.closed_at is not None
    assert SkillMastery.objects.count() == 0


# --- fitting ---------------------------------------------------------------------------


def test_skill_params_fitted_only_with_enough_data(world, settings):
    settings.LEARNING_BKT_FIT_MIN_LEARNERS = 3
    settings.LEARNING_BKT_FIT_MIN_OBSERVATIONS = 12
    from tests.factories import StudentFactory, enroll

    assert services.skill_params_fit(skill=world.skill_a) is None
    learners = [world.student] + [StudentFactory() for _ in range(3)]
    for learner in learners[1:]:
        enroll(world.classroom, learner)
    cmap = selectors.course_map(course=world.course)
    for index, learner in enumerate(learners):
        answers = ["0.5", "0.5", "0.75", "0.75"] if index % 2 else ["0.5", "0.75", "0.75", "0.75"]
        for answer in answers:
            presentation = services.presentation_next(
                learner=learner, lesson=world.lesson, cmap=cmap
            )
            if presentation is None:
                break
            services.attempt_submit(presentation=presentation, response=answer)
    params = services.skill_params_fit(skill=world.skill_a)
    assert params is not None
    assert params.sequences == 4
    assert params.observations >= 12
    assert 0 < params.guess < 0.5
    assert 0 < params.slip < 0.5
    assert SkillParams.objects.count() == 1
    # the fitted parameters are what the learner model now uses
    used = selectors.skill_params(skills={"a": world.skill_a})["a"]
    assert used.learn == pytest.approx(params.learn)


def test_stalled_skill_sends_the_learner_back_to_check_a_prerequisite_from_another_lesson(
    world,
):
    # given skill a believed mastered (barely) and skill b, taught in a later lesson,
    # stuck after four first attempts
    from courses import services as course_services
    from tests.courses.factories import ExerciseFactory, LessonFactory

    later = LessonFactory(unit=world.lesson.unit, title_en="Later")
    ExerciseFactory(lesson=later, skills=[world.skill_b])
    course_services.lesson_publish(lesson=later)
    SkillMastery.objects.create(
        learner=world.student, skill=world.skill_a, p_known=0.96, opportunities=3
    )
    SkillMastery.objects.create(
        learner=world.student, skill=world.skill_b, p_known=0.3, opportunities=4
    )
    # when the later lesson chooses the next exercise
    presentation = start(world, later)
    # then it re-checks skill a with an exercise of the first lesson
    assert presentation.reason == Presentation.Reason.REVIEW
    assert presentation.exercise.skills.first() == world.skill_a
    assert presentation.exercise.lesson_id == world.lesson.id
    # and a wrong answer there pulls a back below mastery, so a is practised again
    services.attempt_submit(presentation=presentation, response="0.5")
    assert SkillMastery.objects.get(skill=world.skill_a).p_known < 0.95
