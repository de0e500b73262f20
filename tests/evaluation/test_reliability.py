"""Exact binomial intervals against closed forms and scipy's own exact interval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from highstakes.evaluation.reliability import (
    RateEstimate,
    clopper_pearson,
    estimate_rate,
    expected_labels_per_failure,
    failure_rate,
    labels_to_observe,
    upper_bound,
)


def test_no_events_has_closed_form_interval() -> None:
    # With k = 0 the upper limit solves (1 - p) ** n = 0.025.
    assert clopper_pearson(0, 10) == pytest.approx((0.0, 1 - 0.025 ** (1 / 10)), rel=1e-10)


def test_all_events_mirror_no_events() -> None:
    assert clopper_pearson(10, 10) == pytest.approx((0.025 ** (1 / 10), 1.0), rel=1e-10)


@pytest.mark.parametrize(("k", "n"), [(0, 7), (3, 10), (5, 10), (17, 40), (1, 100_000)])
def test_interval_is_symmetric_under_swapping_events(k: int, n: int) -> None:
    lower, upper = clopper_pearson(k, n)
    mirror_lower, mirror_upper = clopper_pearson(n - k, n)
    assert lower == pytest.approx(1 - mirror_upper, abs=1e-12)
    assert upper == pytest.approx(1 - mirror_lower, abs=1e-12)


@pytest.mark.parametrize(
    ("k", "n", "confidence"),
    [(0, 1, 0.95), (1, 1, 0.9), (2, 30, 0.95), (3, 100_000, 0.95), (50, 120, 0.99), (7, 7, 0.8)],
)
def test_matches_scipy_exact_interval(k: int, n: int, confidence: float) -> None:
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    # scipy finds the limits by root search, to about 1e-8 relative.
    assert clopper_pearson(k, n, confidence) == pytest.approx(
        (expected.low, expected.high), rel=1e-7, abs=1e-15
    )


def test_rule_of_three() -> None:
    assert upper_bound(0, 10) == pytest.approx(1 - 0.05 ** (1 / 10), rel=1e-12)
    # -ln(0.05) = 2.996: "3 / n" for large n.
    assert 100_000 * upper_bound(0, 100_000) == pytest.approx(3.0, rel=2e-3)


@pytest.mark.parametrize(("k", "n"), [(1, 10), (4, 50), (30, 30), (0, 3)])
def test_one_sided_bound_is_two_sided_limit_at_twice_the_tail(k: int, n: int) -> None:
    assert upper_bound(k, n, 0.95) == pytest.approx(clopper_pearson(k, n, 0.90)[1], rel=1e-10)


def test_labels_per_failure_matches_seed() -> None:
    # Seed: at 0.003% "you would have to sample and label 30,000 examples to find a failure".
    assert expected_labels_per_failure(3e-5) == pytest.approx(33_333.3, rel=1e-4)
    assert expected_labels_per_failure(0.0) == math.inf


@pytest.mark.parametrize(("rate", "n_failures"), [(3e-5, 1), (1e-3, 1), (1e-2, 3), (0.2, 5)])
def test_labels_to_observe_is_smallest_sufficient(rate: float, n_failures: int) -> None:
    n = labels_to_observe(rate, n_failures, probability=0.95)
    assert stats.binom.sf(n_failures - 1, n, rate) >= 0.95
    assert stats.binom.sf(n_failures - 1, n - 1, rate) < 0.95
    if n_failures == 1:
        assert n == math.ceil(math.log(0.05) / math.log1p(-rate))


def test_estimate_keeps_one_sided_bound_only_without_events() -> None:
    none_seen = estimate_rate(0, 100_000)
    assert none_seen.rate == 0 and none_seen.lower == 0
    assert none_seen.one_sided_upper == pytest.approx(upper_bound(0, 100_000))
    assert none_seen.one_sided_upper < none_seen.upper
    some_seen = estimate_rate(3, 100_000)
    assert some_seen.one_sided_upper is None
    assert some_seen.as_dict()["method"] == "clopper-pearson"
    assert some_seen.contains(3e-5) and not some_seen.contains(1e-3)


def test_failure_rate_counts_only_accepted_injuries() -> None:
    injurious = np.array([True, True, False, False, True])
    accepted = np.array([True, False, True, False, False])
    result = failure_rate(injurious, accepted)
    assert isinstance(result, RateEstimate)
    assert (result.n_events, result.n_trials, result.rate) == (1, 5, 0.2)
    assert (result.lower, result.upper) == pytest.approx(clopper_pearson(1, 5))


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ((0, 0), "n_trials"),
        ((5, 4), "n_events"),
        ((-1, 4), "n_events"),
        ((1.5, 4), "whole numbers"),
        ((1, 4, 1.0), "confidence"),
        ((1, 4, 0.0), "confidence"),
    ],
)
def test_bad_counts_are_named(args: tuple, named: str) -> None:
    for function in (clopper_pearson, upper_bound, estimate_rate):
        with pytest.raises(ValueError, match=named):
            function(*args)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        expected_labels_per_failure(1.5)
    with pytest.raises(ValueError, match="failure_rate"):
        labels_to_observe(0.0)
    with pytest.raises(ValueError, match="n_failures"):
        labels_to_observe(0.1, n_failures=0)
    with pytest.raises(ValueError, match="same length"):
        failure_rate(np.ones(3, bool), np.ones(4, bool))
    with pytest.raises(ValueError, match="boolean"):
        failure_rate(np.ones(3), np.ones(3, bool))
