"""benchmarks/estimation.py's core on a tiny synthetic (score, label) set: the pool
`evaluation.pools` builds, the bound, and the figures the benchmark reports."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy import special

from highstakes.evaluation.pools import ScoredSet, SimulatedPool, bound, kernel_pool
from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def estimation() -> ModuleType:
    return load_benchmark("estimation")


def scored_set(seed: int, n_harmless: int, n_injurious: int) -> ScoredSet:
    """Binormal logits, the threshold flagging 95% of the injurious ones."""
    rng = np.random.default_rng(seed)
    logits = np.concatenate([rng.normal(-3, 2, n_harmless), rng.normal(3, 2, n_injurious)])
    injurious = np.arange(logits.size) >= n_harmless
    threshold = float(special.expit(np.quantile(logits[injurious], 0.05)))
    return ScoredSet(special.expit(logits), injurious, threshold)


def test_kernel_pool_has_the_asked_failure_rate() -> None:
    data = scored_set(0, 300, 200)
    drawn = kernel_pool(data, 100_000, 2e-3, np.random.default_rng(1))
    pool = drawn.pool
    assert pool.scores.size == 100_000 and pool.failures.sum() == 200
    assert pool.threshold == pytest.approx(data.threshold)
    assert drawn.injurious_share == pytest.approx(2e-3 / drawn.pass_given_injurious, rel=1e-3)
    assert pool.injurious.mean() == pytest.approx(drawn.injurious_share)
    # r(s) is the true P(failure | score): it averages to the failure rate over the pool.
    r = drawn.failure_posterior(pool.scores)
    assert np.all(r[pool.scores >= pool.threshold] == 0)
    assert r.mean() == pytest.approx(2e-3, rel=0.1)


def test_bound_is_one_over_the_accepted_share_when_failures_are_spread_evenly() -> None:
    # Half the pool accepted, failures spread evenly over it: a score-only design can do
    # no better than skip the rejected half, so it needs half the labels.
    rng = np.random.default_rng(2)
    scores = rng.random(200_000)
    pool = SimulatedPool(scores=scores, injurious=rng.random(scores.size) < 0.02, threshold=0.5)
    mu = pool.failure_rate
    r = np.where(scores < 0.5, mu / np.mean(scores < 0.5), 0.0)
    assert bound(pool, r) == pytest.approx(1 / np.mean(scores < 0.5), rel=0.02)


def test_core_reports_ratios_within_the_bound(estimation: ModuleType, tmp_path: Path) -> None:
    population = scored_set(3, 300, 200)
    calibration = scored_set(4, 150, 80)
    out = str(tmp_path / "e.json")
    args = estimation.parse_args(
        ["--model", "unused", "--out", out, "--pool", "100000", "--reps", "300"]
    )
    result = estimation.compare_real(population, calibration, args, {"1e-2": 1e-2})

    assert {"label_ratio_1e-2", "bound_1e-2", "share_of_bound_1e-2"} <= result.keys()
    assert {"coverage_uniform", "coverage_is", "proposal", "per_rate"} <= result.keys()
    assert result["neighbors"] == max(
        result["neighbor_log_likelihood"], key=result["neighbor_log_likelihood"].get
    )
    row = result["per_rate"]["1e-2"]
    assert row["n_failures_in_pool"] == 1_000 and row["pool"] == 100_000
    for method in ("uniform", "importance", "importance_oracle"):
        assert {"n_labels", "mean_width", "coverage", "mean_failures_found"} <= row[method].keys()
        # The width target was met on the search's draws; fresh draws are within noise.
        assert row[method]["mean_width"] <= 1.05 * row["true_rate"]
    # No design beats the best score-only proposal's variance (up to simulation noise);
    # the width-based ratio may exceed it a little, as Clopper-Pearson is conservative.
    assert row["importance"]["variance_ratio"] <= 1.15 * row["bound"]
    assert row["importance_oracle"]["variance_ratio"] <= 1.15 * row["bound"]
    assert row["label_ratio"] <= 1.25 * row["bound"]
    assert row["label_ratio"] > 1  # it does save labels here
    assert result["coverage_is"] >= 0.9 and result["coverage_uniform"] >= 0.9
    # Finer kernels pin the failures down more, so the bound can only grow.
    bounds = [row["bound_by_neighbors"][k] for k in sorted(row["bound_by_neighbors"])]
    assert bounds[0] >= bounds[-1]
