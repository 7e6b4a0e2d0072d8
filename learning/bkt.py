"""Bayesian Knowledge Tracing (BKT): the learner model behind exercise selection.

Pure NumPy; no Django import, so the benchmark and the tests can use it on their own.

The model (Corbett & Anderson, 1995)
------------------------------------
For each (learner, skill) the skill is in one of two hidden states, *unknown* or *known*.
Four parameters describe a skill (:class:`BktParams`):

- ``prior`` = P(L0): the skill is known before the first opportunity;
- ``learn`` = P(T): an unknown skill becomes known after an opportunity to practise it;
- ``guess`` = P(G): a correct answer although the skill is unknown;
- ``slip``  = P(S): a wrong answer although the skill is known.

*Known* is absorbing (no forgetting: the scheduler of due reviews handles forgetting, not BKT).
With ``p = P(L_t)`` the probability that the skill is known before answer ``t``::

    P(correct_t)              = p (1 - slip) + (1 - p) guess
    P(L_t | correct_t)        = p (1 - slip) / (p (1 - slip) + (1 - p) guess)
    P(L_t | wrong_t)          = p slip       / (p slip       + (1 - p) (1 - guess))
    P(L_{t+1})                = P(L_t | obs_t) + (1 - P(L_t | obs_t)) learn

Fitting (:func:`fit_em`) is Baum-Welch on that two-state hidden Markov model: initial
distribution ``(1 - prior, prior)``, transition ``[[1 - learn, learn], [0, 1]]``, emission
P(correct | unknown) = guess and P(correct | known) = 1 - slip. All sequences are padded into
one matrix with a mask and run through a scaled forward-backward pass together. Padded steps
emit with probability 1 in both states, so they change neither the likelihood nor the
posteriors; the transition counts only use steps whose next step is observed.

Guess and slip are kept below 0.5. Without that bound the model is not identifiable: the
labels "known" and "unknown" can swap (a "known" state that answers wrongly most of the
time), and EM happily finds such degenerate optima on real data (Baker, Corbett & Aleven,
2008, "More accurate student modeling through contextual estimation of slip and guess").

Why hand-written: pyBKT 1.4.3, the reference implementation, fails to import against
scikit-learn 1.9, and the part we need (the four-parameter model, EM, prediction) is about a
hundred lines of NumPy that we can test against hand-computed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

# Every fitted parameter stays strictly inside (EPSILON, 1 - EPSILON): a probability of
# exactly 0 or 1 makes one observation impossible and its log-likelihood -inf.
EPSILON = 1e-4
# Guess and slip stay below 0.5 (see the module docstring: identifiability).
MAX_GUESS_SLIP = 0.5 - EPSILON


@dataclass(frozen=True)
class BktParams:
    """The four BKT parameters of one skill. Every value is a probability in (0, 1)."""

    prior: float
    learn: float
    guess: float
    slip: float

    def __post_init__(self) -> None:
        validate_params(self)


def validate_params(params: BktParams) -> None:
    """Raise ValueError unless every parameter lies in the open interval (0, 1) and
    guess + slip < 1 (a known skill must make a correct answer more likely, not less)."""
    for name in ("prior", "learn", "guess", "slip"):
        value = getattr(params, name)
        if not (isinstance(value, int | float) and 0.0 < value < 1.0):
            raise ValueError(f"BKT {name} must be a probability in (0, 1), got {value!r}")
    if params.guess + params.slip >= 1.0:
        raise ValueError(
            f"BKT guess + slip must be below 1, got {params.guess} + {params.slip}: "
            "knowing the skill would not make a correct answer more likely"
        )


# Defaults for a skill nobody has fitted yet. They sit in the usual range of BKT fits on
# tutoring data (e.g. the ASSISTments and Cognitive Tutor fits reported by Baker et al.):
# - prior 0.2: most learners who open a lesson do not know its skill yet;
# - learn 0.15: a handful of good opportunities is enough, as a course author plans it;
# - guess 0.2: short answers and 3-5-way choices are hard but not impossible to guess;
# - slip 0.1: careless errors happen, rarer than guesses.
# With these, three correct answers in a row take a new skill from 0.2 to 0.977 (past the
# default mastery threshold of 0.95); two take it to 0.890.
DEFAULT_PARAMS = BktParams(prior=0.2, learn=0.15, guess=0.2, slip=0.1)


def predict_correct(p_known: float, params: BktParams) -> float:
    """P(correct answer) when the skill is known with probability ``p_known``."""
    return p_known * (1.0 - params.slip) + (1.0 - p_known) * params.guess


def update(p_known: float, correct: bool, params: BktParams) -> float:
    """One BKT step: the posterior P(known) given the answer, then the learning transition.

    Returns P(known) before the next opportunity.
    """
    if correct:
        evidence = p_known * (1.0 - params.slip)
        posterior = evidence / (evidence + (1.0 - p_known) * params.guess)
    else:
        evidence = p_known * params.slip
        posterior = evidence / (evidence + (1.0 - p_known) * (1.0 - params.guess))
    return posterior + (1.0 - posterior) * params.learn


class Trace(NamedTuple):
    """The result of :func:`trace`."""

    predictions: np.ndarray  # P(correct) before each observation, shape (len(observations),)
    p_known: float  # P(known) after the last observation (before the next opportunity)


def trace(
    observations: Sequence[bool] | np.ndarray,
    params: BktParams,
    *,
    p_known: float | None = None,
) -> Trace:
    """Run :func:`update` over a sequence of answers, from ``p_known`` (default: the prior).

    The prediction for answer ``t`` only uses answers ``0 .. t-1``, so the predictions can be
    scored against the answers (AUC) without leakage.
    """
    p = params.prior if p_known is None else p_known
    answers = np.asarray(observations, dtype=bool)
    predictions = np.empty(answers.shape[0], dtype=float)
    for t, correct in enumerate(answers):
        predictions[t] = predict_correct(p, params)
        p = update(p, bool(correct), params)
    return Trace(predictions=predictions, p_known=p)


@dataclass(frozen=True)
class FitResult:
    """The outcome of :func:`fit_em`."""

    params: BktParams
    log_likelihood: float  # of all observations under ``params`` (natural log)
    iterations: int  # M-steps taken
    n_sequences: int  # non-empty sequences used
    n_observations: int
    # log-likelihood before the first M-step, then after each one: never decreases.
    history: tuple[float, ...] = ()
    converged: bool = False  # False when max_iter stopped the loop


def fit_em(
    sequences: Sequence[Sequence[bool] | np.ndarray],
    *,
    initial: BktParams = DEFAULT_PARAMS,
    max_iter: int = 200,
    tol: float = 1e-6,
) -> FitResult:
    """Fit one skill's parameters by Baum-Welch (EM) over learners' answer sequences.

    ``sequences`` holds one sequence of answers (bool or 0/1) per learner, in order; empty
    sequences are ignored and at least one answer is required. EM stops when one iteration
    improves the mean log-likelihood per observation by less than ``tol``, or after
    ``max_iter`` M-steps. Each M-step is the exact maximiser of the expected complete-data
    log-likelihood inside the bounds (each parameter's term is a concave Bernoulli
    log-likelihood, so clipping it to its interval is the constrained optimum), hence the
    log-likelihood never decreases.
    """
    observed = [np.asarray(seq, dtype=bool).ravel() for seq in sequences]
    observed = [seq for seq in observed if seq.size]
    if not observed:
        raise ValueError("fit_em needs at least one observation")
    n_sequences = len(observed)
    lengths = np.array([seq.size for seq in observed])
    mask = np.arange(lengths.max())[None, :] < lengths[:, None]
    answers = np.zeros(mask.shape, dtype=bool)
    answers[mask] = np.concatenate(observed)
    n_observations = int(lengths.sum())

    params = _clip(initial)
    log_likelihood, stats = _e_step(answers, mask, params)
    history = [log_likelihood]
    converged = False
    iterations = 0
    while iterations < max_iter:
        params = _m_step(stats, params)
        iterations += 1
        new_log_likelihood, stats = _e_step(answers, mask, params)
        history.append(new_log_likelihood)
        improvement = (new_log_likelihood - log_likelihood) / n_observations
        log_likelihood = new_log_likelihood
        if improvement < tol:
            converged = True
            break
    return FitResult(
        params=params,
        log_likelihood=log_likelihood,
        iterations=iterations,
        n_sequences=n_sequences,
        n_observations=n_observations,
        history=tuple(history),
        converged=converged,
    )


class _Stats(NamedTuple):
    """Expected counts from one E-step (sums over all sequences and steps)."""

    known_at_start: float  # sum of P(known at step 0)
    n_sequences: int
    learned: float  # expected unknown -> known transitions into an observed step
    could_learn: float  # expected time in "unknown" before an observed step
    correct_unknown: float  # expected correct answers in state unknown
    unknown: float  # expected observed steps in state unknown
    wrong_known: float  # expected wrong answers in state known
    known: float  # expected observed steps in state known


def _e_step(answers: np.ndarray, mask: np.ndarray, params: BktParams) -> tuple[float, _Stats]:
    """Scaled forward-backward over all sequences at once; returns the log-likelihood and
    the expected counts. ``answers`` and ``mask`` have shape (sequences, longest)."""
    n, steps = answers.shape
    learn = params.learn
    # Emission probabilities per state; padded steps emit with probability 1 in both states.
    e0 = np.where(mask, np.where(answers, params.guess, 1.0 - params.guess), 1.0)
    e1 = np.where(mask, np.where(answers, 1.0 - params.slip, params.slip), 1.0)

    a0 = np.empty((n, steps))  # scaled forward variables, state unknown / known
    a1 = np.empty((n, steps))
    scale = np.empty((n, steps))
    p0 = np.full(n, 1.0 - params.prior)
    p1 = np.full(n, params.prior)
    for t in range(steps):
        if t:
            p0 = a0[:, t - 1] * (1.0 - learn)
            p1 = a0[:, t - 1] * learn + a1[:, t - 1]
        f0 = p0 * e0[:, t]
        f1 = p1 * e1[:, t]
        c = f0 + f1
        scale[:, t] = c
        a0[:, t] = f0 / c
        a1[:, t] = f1 / c

    b0 = np.ones((n, steps))  # scaled backward variables
    b1 = np.ones((n, steps))
    w0_next = np.zeros((n, steps))  # e(t+1) * beta(t+1) / c(t+1), reused for the xi counts
    w1_next = np.zeros((n, steps))
    for t in range(steps - 2, -1, -1):
        w0 = e0[:, t + 1] * b0[:, t + 1] / scale[:, t + 1]
        w1 = e1[:, t + 1] * b1[:, t + 1] / scale[:, t + 1]
        w0_next[:, t] = w0
        w1_next[:, t] = w1
        b0[:, t] = (1.0 - learn) * w0 + learn * w1
        b1[:, t] = w1

    g0 = a0 * b0  # posterior P(state | all answers of the sequence)
    g1 = a1 * b1
    # Transitions t -> t+1 count only when step t+1 is observed.
    next_observed = np.zeros_like(mask)
    next_observed[:, :-1] = mask[:, 1:]
    learned = a0 * learn * w1_next
    stats = _Stats(
        known_at_start=float(g1[:, 0].sum()),
        n_sequences=n,
        learned=float(learned[next_observed].sum()),
        could_learn=float(g0[next_observed].sum()),
        correct_unknown=float(g0[mask & answers].sum()),
        unknown=float(g0[mask].sum()),
        wrong_known=float(g1[mask & ~answers].sum()),
        known=float(g1[mask].sum()),
    )
    log_likelihood = float(np.log(scale[mask]).sum())
    return log_likelihood, stats


def _m_step(stats: _Stats, current: BktParams) -> BktParams:
    """Closed-form maximisation, bounded; a parameter with no evidence keeps its value."""

    def ratio(numerator: float, denominator: float, fallback: float) -> float:
        return numerator / denominator if denominator > 0.0 else fallback

    return _clip(
        BktParams(
            prior=_inside(ratio(stats.known_at_start, stats.n_sequences, current.prior)),
            learn=_inside(ratio(stats.learned, stats.could_learn, current.learn)),
            guess=_inside(ratio(stats.correct_unknown, stats.unknown, current.guess)),
            slip=_inside(ratio(stats.wrong_known, stats.known, current.slip)),
        )
    )


def _inside(value: float) -> float:
    """Clamp into the open interval so that BktParams validation accepts it."""
    return min(max(value, EPSILON), 1.0 - EPSILON)


def _clip(params: BktParams) -> BktParams:
    return BktParams(
        prior=_inside(params.prior),
        learn=_inside(params.learn),
        guess=min(_inside(params.guess), MAX_GUESS_SLIP),
        slip=min(_inside(params.slip), MAX_GUESS_SLIP),
    )


def log_likelihood(sequences: Sequence[Sequence[bool] | np.ndarray], params: BktParams) -> float:
    """Log-likelihood of answer sequences under ``params`` (natural log)."""
    total = 0.0
    for seq in sequences:
        answers = np.asarray(seq, dtype=bool).ravel()
        predictions = trace(answers, params).predictions
        total += float(np.log(np.where(answers, predictions, 1.0 - predictions)).sum())
    return total


def auc(labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a
    random negative, ties counting one half (Mann-Whitney U with average ranks).

    Raises ValueError unless both classes are present.
    """
    y = np.asarray(labels, dtype=bool).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.size} != {s.size}")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs at least one positive and one negative label")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    last_rank = np.cumsum(counts)  # 1-based rank of the last member of each tie group
    average_rank = last_rank - (counts - 1) / 2.0
    rank_sum = float(average_rank[inverse][y].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
