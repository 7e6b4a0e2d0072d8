import time

import numpy as np
import pytest

from learning.bkt import (
    DEFAULT_PARAMS,
    MAX_GUESS_SLIP,
    BktParams,
    auc,
    fit_em,
    log_likelihood,
    predict_correct,
    trace,
    update,
)

# prior 0.2, learn 0.15, guess 0.2, slip 0.1 throughout the hand computations.
PARAMS = BktParams(prior=0.2, learn=0.15, guess=0.2, slip=0.1)


def simulate(params: BktParams, *, learners: int, steps: int, seed: int) -> np.ndarray:
    """Answers of ``learners`` simulated by BKT itself, shape (learners, steps)."""
    rng = np.random.default_rng(seed)
    known = rng.random(learners) < params.prior
    answers = np.empty((learners, steps), dtype=bool)
    for t in range(steps):
        answers[:, t] = np.where(
            known, rng.random(learners) >= params.slip, rng.random(learners) < params.guess
        )
        known |= rng.random(learners) < params.learn
    return answers


def test_default_params_are_the_documented_ones():
    assert DEFAULT_PARAMS == PARAMS


@pytest.mark.parametrize(
    "fields",
    [
        {"prior": 0.0, "learn": 0.1, "guess": 0.2, "slip": 0.1},
        {"prior": 0.2, "learn": 1.0, "guess": 0.2, "slip": 0.1},
        {"prior": 0.2, "learn": 0.1, "guess": -0.1, "slip": 0.1},
        {"prior": 0.2, "learn": 0.1, "guess": 0.6, "slip": 0.4},  # guess + slip = 1
    ],
)
def test_params_outside_their_range_are_refused(fields):
    with pytest.raises(ValueError, match="BKT"):
        BktParams(**fields)


def test_update_after_a_correct_answer_matches_the_hand_computation():
    # posterior = 0.2 * 0.9 / (0.2 * 0.9 + 0.8 * 0.2) = 0.18 / 0.34 = 9/17
    # next      = 9/17 + (8/17) * 0.15 = (9 + 1.2) / 17 = 10.2 / 17 = 0.6
    assert update(0.2, True, PARAMS) == pytest.approx(0.6, abs=1e-12)


def test_update_after_a_wrong_answer_matches_the_hand_computation():
    # posterior = 0.2 * 0.1 / (0.2 * 0.1 + 0.8 * 0.8) = 0.02 / 0.66 = 1/33
    # next      = 1/33 + (32/33) * 0.15 = (1 + 4.8) / 33 = 5.8 / 33 = 0.17575...
    assert update(0.2, False, PARAMS) == pytest.approx(5.8 / 33, abs=1e-12)


def test_update_chains_two_correct_answers():
    # from 0.6: posterior = 0.54 / (0.54 + 0.4 * 0.2) = 0.54 / 0.62 = 27/31
    #           next      = 27/31 + (4/31) * 0.15 = 27.6 / 31 = 0.89032...
    assert update(update(0.2, True, PARAMS), True, PARAMS) == pytest.approx(27.6 / 31, abs=1e-12)


def test_predict_correct_mixes_slip_and_guess():
    # 0.2 * (1 - 0.1) + 0.8 * 0.2 = 0.18 + 0.16 = 0.34
    assert predict_correct(0.2, PARAMS) == pytest.approx(0.34, abs=1e-12)
    assert predict_correct(1.0, PARAMS) == pytest.approx(0.9, abs=1e-12)
    assert predict_correct(0.0, PARAMS) == pytest.approx(0.2, abs=1e-12)


def test_trace_predicts_each_answer_from_the_previous_ones_only():
    # before answer 1: P(known) = prior 0.2          -> P(correct) = 0.34
    # before answer 2: P(known) = 0.6 (see above)    -> P(correct) = 0.54 + 0.08 = 0.62
    # after the wrong answer 2: posterior = 0.06 / (0.06 + 0.4 * 0.8) = 0.06 / 0.38 = 3/19
    #                           next      = 3/19 + (16/19) * 0.15 = 5.4 / 19
    result = trace([True, False], PARAMS)

    assert result.predictions.tolist() == pytest.approx([0.34, 0.62], abs=1e-12)
    assert result.p_known == pytest.approx(5.4 / 19, abs=1e-12)


def test_trace_of_no_answers_keeps_the_starting_point():
    result = trace([], PARAMS, p_known=0.7)

    assert result.predictions.shape == (0,)
    assert result.p_known == 0.7


def test_fit_recovers_the_parameters_that_generated_the_data():
    # given 3,000 learners x 25 answers simulated from known parameters
    truth = BktParams(prior=0.3, learn=0.12, guess=0.2, slip=0.08)
    answers = simulate(truth, learners=3000, steps=25, seed=20251123)

    # when
    result = fit_em(list(answers))

    # then
    assert result.params.prior == pytest.approx(truth.prior, abs=0.05)
    assert result.params.learn == pytest.approx(truth.learn, abs=0.05)
    assert result.params.guess == pytest.approx(truth.guess, abs=0.05)
    assert result.params.slip == pytest.approx(truth.slip, abs=0.05)
    assert result.converged is True
    assert result.n_sequences == 3000
    assert result.n_observations == 75_000


def test_fit_recovers_parameters_from_a_distant_starting_point():
    truth = BktParams(prior=0.1, learn=0.25, guess=0.3, slip=0.15)
    answers = simulate(truth, learners=3000, steps=25, seed=7)

    result = fit_em(list(answers), initial=BktParams(prior=0.5, learn=0.3, guess=0.3, slip=0.3))

    assert result.params.prior == pytest.approx(truth.prior, abs=0.05)
    assert result.params.learn == pytest.approx(truth.learn, abs=0.05)
    assert result.params.guess == pytest.approx(truth.guess, abs=0.05)
    assert result.params.slip == pytest.approx(truth.slip, abs=0.05)


def test_fit_log_likelihood_never_decreases():
    answers = simulate(PARAMS, learners=500, steps=20, seed=3)

    result = fit_em(
        list(answers), initial=BktParams(prior=0.6, learn=0.02, guess=0.4, slip=0.3), tol=1e-9
    )

    assert len(result.history) == result.iterations + 1
    assert result.history[-1] == result.log_likelihood
    assert np.all(np.diff(result.history) >= -1e-9)
    assert result.history[-1] > result.history[0]


def test_fit_handles_sequences_of_different_lengths():
    # given ragged sequences (padding must change nothing), one of them empty
    rng = np.random.default_rng(11)
    full = simulate(PARAMS, learners=400, steps=30, seed=11)
    sequences = [row[: rng.integers(1, 31)] for row in full] + [np.array([], dtype=bool)]

    # when
    result = fit_em(sequences)

    # then the reported likelihood is the one a plain forward pass computes
    assert result.log_likelihood == pytest.approx(log_likelihood(sequences, result.params))
    assert result.n_sequences == 400
    assert result.n_observations == sum(len(seq) for seq in sequences)


def test_fit_keeps_guess_and_slip_below_one_half():
    # given answers right 85% of the time with no learning at all, and a start that explains
    # them by guessing: unbounded, EM would push guess towards 0.85
    rng = np.random.default_rng(5)
    answers = rng.random((1000, 20)) < 0.85

    result = fit_em(list(answers), initial=BktParams(prior=0.01, learn=0.01, guess=0.45, slip=0.3))

    assert result.params.guess == MAX_GUESS_SLIP  # the bound is what stopped it
    assert MAX_GUESS_SLIP < 0.5
    assert result.params.slip <= MAX_GUESS_SLIP
    for value in (result.params.prior, result.params.learn):
        assert 1e-4 <= value <= 1 - 1e-4


def test_fit_needs_observations():
    with pytest.raises(ValueError, match="at least one observation"):
        fit_em([[], np.array([], dtype=bool)])


def test_fit_is_fast_enough_for_a_nightly_refit():
    answers = simulate(PARAMS, learners=2000, steps=30, seed=1)

    started = time.perf_counter()
    fit_em(list(answers), initial=BktParams(prior=0.5, learn=0.3, guess=0.3, slip=0.3))

    # measured well under a second; a generous bound keeps a busy CI machine green
    assert time.perf_counter() - started < 5.0


def test_auc_of_a_textbook_example():
    # pairs (positive, negative): (0.35, 0.1) yes, (0.35, 0.4) no, (0.8, *) yes, yes -> 3/4
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75


def test_auc_counts_ties_as_one_half():
    # pairs: (0.9, 0.1) 1, (0.9, 0.5) 1, (0.5, 0.1) 1, (0.5, 0.5) 1/2 -> 3.5 / 4
    assert auc([1, 0, 1, 0], [0.9, 0.1, 0.5, 0.5]) == 0.875
    assert auc([True, False], [0.5, 0.5]) == 0.5


def test_auc_of_perfect_and_reversed_rankings():
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auc([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1]) == 0.0


def test_auc_needs_both_classes():
    with pytest.raises(ValueError, match="positive and one negative"):
        auc([1, 1], [0.2, 0.3])
