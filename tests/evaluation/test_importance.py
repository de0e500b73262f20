"""The importance-sampling design and its interval, on small simulated pools."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from highstakes.evaluation.importance import ImportanceSampler, fay_feuer_interval, fit_proposal
from highstakes.evaluation.pools import SimulatedPool, simulate_pool
from highstakes.evaluation.reliability import failure_rate


@pytest.fixture(scope="module")
def pool() -> SimulatedPool:
    # 100 failures among 20,000 samples: rare enough to matter, small enough to be fast.
    return simulate_pool(20_000, 5e-3, seed=0)


def test_gamma_interval_is_exact_poisson_for_equal_weights() -> None:
    weight, k = 1e-4, 7
    rate, lower, upper = fay_feuer_interval(np.array([3, 4]), np.array([weight, weight]))
    assert rate == pytest.approx(k * weight)
    assert lower == pytest.approx(weight * stats.chi2.ppf(0.025, 2 * k) / 2)
    assert upper == pytest.approx(weight * stats.chi2.ppf(0.975, 2 * k + 2) / 2)


def test_gamma_interval_without_failures_uses_largest_weight() -> None:
    weights = np.array([1e-5, 4e-5, 2e-5])
    rate, lower, upper = fay_feuer_interval(np.zeros((2, 3)), weights)
    np.testing.assert_array_equal(rate, 0)
    np.testing.assert_array_equal(lower, 0)
    np.testing.assert_allclose(upper, 4e-5 * -math.log(0.025))


def test_mean_unseen_weight_narrows_only_unequal_weights() -> None:
    counts = np.array([3, 4])
    same = [fay_feuer_interval(counts, np.array([1e-4, 1e-4]), unseen=u) for u in ("max", "mean")]
    np.testing.assert_allclose(same[0], same[1])
    weights = np.array([1e-5, 1e-4])
    _, _, upper_max = fay_feuer_interval(counts, weights, unseen="max")
    rate, lower, upper_mean = fay_feuer_interval(counts, weights, unseen="mean")
    assert lower < rate < upper_mean < upper_max
    with pytest.raises(ValueError, match="unseen"):
        fay_feuer_interval(counts, weights, unseen="min")


def test_hypergeometric_variance_is_smaller_and_vanishes_in_a_census() -> None:
    counts, weights = np.array([5, 40]), np.array([1e-4, 1e-5])
    rate, poisson_lower, _ = fay_feuer_interval(counts, weights)
    labeled, sizes = np.array([50, 50]), np.array([1_000, 60])
    _, lower, _ = fay_feuer_interval(counts, weights, labeled=labeled, sizes=sizes)
    assert poisson_lower < lower < rate
    # Everything labeled: the count is known exactly, only the unseen term widens it.
    _, lower, upper = fay_feuer_interval(counts, weights, labeled=sizes, sizes=sizes)
    assert lower == pytest.approx(rate) and upper > rate


def test_proposal_follows_the_failure_density_over_the_pool_density() -> None:
    rng = np.random.default_rng(10)
    # Validation injurious logits far above the pool: their density rises toward it.
    proposal = fit_proposal(special.expit(rng.normal(2, 1, 400)), np.ones(400, dtype=bool))
    # A pool nine times denser in [-5, -4] than in [-4, -1].
    logits = np.concatenate([rng.uniform(-5, -4, 90_000), rng.uniform(-4, -1, 30_000)])
    mass = proposal(special.expit(logits))
    sparse, dense = logits > -4, logits <= -4
    ratio = mass / np.sqrt(proposal.failure_density(logits))
    # sqrt(f / p): per sample, 1 / sqrt(p) apart once f is divided out (p: 0.75 vs 0.083).
    assert np.median(ratio[sparse]) / np.median(ratio[dense]) == pytest.approx(3, rel=0.1)
    assert mass[np.argmax(logits)] == pytest.approx(mass.max(), rel=0.1)  # near the threshold


def test_proposal_survives_tied_scores_and_needs_injurious_examples() -> None:
    proposal = fit_proposal(np.array([0.2, 0.4, 0.9, 0.95]), np.array([False, True, True, True]))
    scores = np.concatenate([np.full(5_000, 0.01), np.linspace(0.01, 0.3, 5_000)])
    mass = proposal(scores)
    assert mass.shape == scores.shape and np.all(np.isfinite(mass)) and np.all(mass >= 0)
    assert mass.max() == 1
    with pytest.raises(ValueError, match="at least 2 injurious"):
        fit_proposal(np.array([0.1, 0.9]), np.array([False, True]))


def test_simulated_pool_hits_its_targets() -> None:
    pool = simulate_pool(200_000, 1e-3, seed=3)
    assert pool.failure_rate == pytest.approx(1e-3, abs=1.5 / 200_000)
    assert np.mean(pool.scores >= pool.threshold) == pytest.approx(0.5, abs=1e-3)
    # Scores are posteriors, so among accepted samples they add up to the failures found.
    accepted = pool.scores < pool.threshold
    n_failures = int(pool.failures.sum())
    assert abs(pool.scores[accepted].sum() - n_failures) < 4 * math.sqrt(n_failures)


def test_design_labels_only_accepted_samples(pool: SimulatedPool) -> None:
    sampler = ImportanceSampler(threshold=pool.threshold, n_labels=600, seed=1)
    chosen = sampler.design(pool.scores)
    accepted = pool.scores < pool.threshold
    assert chosen.size == 600 and np.unique(chosen).size == 600
    assert accepted[chosen].all()
    assert np.all(sampler.inclusion_probability_[~accepted] == 0)
    assert np.all(sampler.inclusion_probability_[accepted] > 0)
    assert sampler.inclusion_probability_.sum() == pytest.approx(600)
    # Samples near the threshold are the likeliest failures: they are labeled more often.
    near = sampler.inclusion_probability_[accepted][np.argmax(pool.scores[accepted])]
    assert near > 1.2 * sampler.inclusion_probability_[accepted].min()


def test_floor_holds_even_when_the_proposal_ignores_most_samples(pool: SimulatedPool) -> None:
    floor, n_labels = 0.3, 1_000

    def top_only(scores: np.ndarray) -> np.ndarray:
        return (scores > np.quantile(scores, 0.99)).astype(float)

    sampler = ImportanceSampler(
        threshold=pool.threshold, n_labels=n_labels, proposal=top_only, floor=floor, seed=2
    )
    sampler.design(pool.scores)
    n_accepted = int(np.sum(pool.scores < pool.threshold))
    promised = np.floor(floor * n_labels * sampler.stratum_sizes_ / n_accepted)
    assert np.all(sampler.allocation_ >= promised)
    accepted = pool.scores < pool.threshold
    assert sampler.inclusion_probability_[accepted].min() >= 0.9 * floor * n_labels / n_accepted


def test_estimate_from_labels_matches_counts_and_census_is_exact(pool: SimulatedPool) -> None:
    sampler = ImportanceSampler(threshold=pool.threshold, n_labels=500, seed=4)
    chosen = sampler.design(pool.scores)
    from_labels = sampler.estimate(pool.injurious[chosen])
    counts = np.bincount(
        sampler.strata_[chosen[pool.injurious[chosen]]], minlength=sampler.allocation_.size
    )
    assert from_labels == sampler.estimate_counts(counts)
    assert from_labels.method == "importance" and from_labels.n_trials == 500

    census = ImportanceSampler(threshold=pool.threshold, n_labels=pool.scores.size)
    chosen = census.design(pool.scores)
    assert census.estimate(pool.injurious[chosen]).rate == pytest.approx(pool.failure_rate)


def test_no_failures_found_gives_zero_and_a_one_sided_bound(pool: SimulatedPool) -> None:
    sampler = ImportanceSampler(threshold=pool.threshold, n_labels=200, seed=5)
    chosen = sampler.design(pool.scores)
    result = sampler.estimate(np.zeros(chosen.size, dtype=bool))
    assert result.rate == 0 and result.lower == 0
    assert result.one_sided_upper is not None and 0 < result.one_sided_upper < result.upper


def test_estimate_is_unbiased(pool: SimulatedPool) -> None:
    rng = np.random.default_rng(6)
    estimates = []
    for _ in range(400):
        sampler = ImportanceSampler(threshold=pool.threshold, n_labels=300, seed=rng)
        chosen = sampler.design(pool.scores)
        estimates.append(sampler.estimate(pool.injurious[chosen]).rate)
    standard_error = np.std(estimates) / math.sqrt(len(estimates))
    assert abs(np.mean(estimates) - pool.failure_rate) < 4 * standard_error


def test_same_seed_same_design(pool: SimulatedPool) -> None:
    first = ImportanceSampler(threshold=pool.threshold, n_labels=100, seed=7).design(pool.scores)
    again = ImportanceSampler(threshold=pool.threshold, n_labels=100, seed=7).design(pool.scores)
    np.testing.assert_array_equal(first, again)


def test_both_intervals_cover_the_pool_rate(pool: SimulatedPool) -> None:
    rng = np.random.default_rng(8)
    truth, reps = pool.failure_rate, 300
    accepted = pool.scores < pool.threshold
    covered_uniform = covered_is = 0
    for _ in range(reps):
        drawn = rng.choice(pool.scores.size, size=2_000, replace=False)
        covered_uniform += failure_rate(pool.injurious[drawn], accepted[drawn]).contains(truth)
        sampler = ImportanceSampler(threshold=pool.threshold, n_labels=400, seed=rng)
        chosen = sampler.design(pool.scores)
        covered_is += sampler.estimate(pool.injurious[chosen]).contains(truth)
    assert covered_uniform / reps >= 0.93
    assert covered_is / reps >= 0.93


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_labels": 0}, "n_labels"),
        ({"floor": 0.0}, "floor"),
        ({"n_strata": 0}, "n_strata"),
        ({"confidence": 1.0}, "confidence"),
        ({"unseen": "min"}, "unseen"),
        ({"proposal": lambda s: -s}, "proposal"),
        ({"threshold": 0.0}, "no sample scores below the threshold"),
    ],
)
def test_bad_design_inputs_are_explained(
    pool: SimulatedPool, params: dict[str, object], message: str
) -> None:
    settings: dict = {"threshold": pool.threshold, "n_labels": 10} | params
    with pytest.raises(ValueError, match=message):
        ImportanceSampler(**settings).design(pool.scores)


def test_estimate_needs_a_design_and_one_label_per_choice(pool: SimulatedPool) -> None:
    sampler = ImportanceSampler(threshold=pool.threshold, n_labels=10)
    with pytest.raises(ValueError, match="design"):
        sampler.estimate(np.zeros(10, dtype=bool))
    sampler.design(pool.scores)
    with pytest.raises(ValueError, match="one label per chosen sample"):
        sampler.estimate(np.zeros(9, dtype=bool))
    with pytest.raises(ValueError, match="more failures than labeled"):
        sampler.estimate_counts(sampler.allocation_ + 1)
