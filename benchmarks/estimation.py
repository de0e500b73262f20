"""Labels needed to estimate a filter's failure rate: uniform random sampling with a
Clopper-Pearson interval against the importance-sampling design, on simulated pools whose
true failure rates are 1e-3 and 1e-4.

usage: python benchmarks/estimation.py --out estimation.json [--reps 2000] [--seed 0]

For each rate it finds the fewest labels with which a method's 95% interval is, on
average over draws, no wider than --relative-width times the true rate (1.0: upper minus
lower equals the rate, a relative half-width of about 50%), then counts over --reps draws
how often each interval contains the true pool rate.  Writes {"label_ratio_1e-3",
"label_ratio_1e-4", "coverage_uniform", "coverage_is", ...}; a coverage key is the lowest
over the rates.

A draw of a design only matters through the failures it finds: k ~ hypergeometric for
uniform sampling without replacement, and one independent hypergeometric count per
stratum for the importance design, so draws are made that way (thousands in seconds).
Uniform widths are exact expectations over that distribution, not simulated.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import stats

from highstakes.evaluation.importance import (
    ImportanceSampler,
    SimulatedPool,
    fay_feuer_interval,
    simulate_pool,
)
from highstakes.evaluation.reliability import clopper_pearson

RATES = {"1e-3": 1e-3, "1e-4": 1e-4}
CONFIDENCE = 0.95


def smallest_n(mean_width: Callable[[int], float], target: float, high: int) -> int:
    """Fewest labels whose mean interval width is at most `target` (bisection: the width
    falls as labels grow, up to simulation noise)."""
    low = 1
    if mean_width(high) > target:
        raise ValueError(f"even {high} labels miss the width target: raise --pool")
    while high - low > max(1, low // 200):  # 0.5% resolution is plenty
        middle = (low + high) // 2
        low, high = (low, middle) if mean_width(middle) <= target else (middle, high)
    return high


def uniform_widths(
    population: int, n_failures: int, n: int, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Support, probabilities and Clopper-Pearson intervals (times `scale`) of the failures
    found among n samples drawn without replacement from `population`."""
    dist = stats.hypergeom(population, n_failures, n)
    low, high = (int(x) for x in dist.ppf([1e-12, 1 - 1e-12]))
    k = np.arange(low, high + 1)
    bounds = np.array([clopper_pearson(int(i), n, CONFIDENCE) for i in k]) * scale
    return k, dist.pmf(k), bounds


def uniform_method(
    pool: SimulatedPool,
    reps: int,
    relative_width: float,
    rng: np.random.Generator,
    *,
    accepted_only: bool = False,
) -> dict[str, float | int]:
    """Uniform sampling from the pool (or, as a reference, from its accepted samples only,
    scaling the rate by the accepted fraction)."""
    truth, n_failures = pool.failure_rate, int(pool.failures.sum())
    population = int((pool.scores < pool.threshold).sum()) if accepted_only else pool.scores.size
    scale = population / pool.scores.size

    def mean_width(n: int) -> float:
        _, pmf, bounds = uniform_widths(population, n_failures, n, scale)
        return float(pmf @ (bounds[:, 1] - bounds[:, 0]))

    n = smallest_n(mean_width, relative_width * truth, population)
    k, pmf, bounds = uniform_widths(population, n_failures, n, scale)
    covers = (bounds[:, 0] <= truth) & (truth <= bounds[:, 1])
    found = rng.hypergeometric(n_failures, population - n_failures, n, size=reps)
    return {
        "n_labels": n,
        "mean_width": mean_width(n),
        "coverage": float(np.mean(covers[np.clip(found - k[0], 0, k.size - 1)])),
        "exact_coverage": float(pmf @ covers),
    }


def oracle_allocation_gain(pool: SimulatedPool, n_strata: int = 20) -> float:
    """Variance of uniform sampling over the accepted samples divided by that of the best
    possible score-stratified design (Neyman allocation with the true per-stratum injury
    rates): the most any importance design could save on top of skipping rejected ones."""
    accepted = pool.scores < pool.threshold
    failures = pool.failures[accepted][np.argsort(pool.scores[accepted])]
    rate = np.array([chunk.mean() for chunk in np.array_split(failures, n_strata)])
    return float(rate.mean() / np.mean(np.sqrt(rate * (1 - rate))) ** 2)


def is_draws(
    pool: SimulatedPool, n: int, reps: int, rng: np.random.Generator, floor: float, n_strata: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates and intervals of `reps` independent runs of the importance design."""
    sampler = ImportanceSampler(
        threshold=pool.threshold, n_labels=n, floor=floor, n_strata=n_strata, seed=rng
    )
    sampler.design(pool.scores)
    in_pool = np.bincount(sampler.strata_[pool.failures], minlength=sampler.allocation_.size)
    found = rng.hypergeometric(
        in_pool,
        sampler.stratum_sizes_ - in_pool,
        sampler.allocation_,
        size=(reps, in_pool.size),
    )
    return fay_feuer_interval(found, sampler.stratum_weights_, CONFIDENCE)


def is_method(
    pool: SimulatedPool,
    reps: int,
    relative_width: float,
    seed: int,
    floor: float,
    n_strata: int,
) -> dict[str, float | int]:
    truth = pool.failure_rate

    def mean_width(n: int) -> float:
        # The same seed at every n: common random numbers steady the search.
        rng = np.random.default_rng(seed)
        _, lower, upper = is_draws(pool, n, 1000, rng, floor, n_strata)
        return float(np.mean(upper - lower))

    n_accepted = int((pool.scores < pool.threshold).sum())
    n = smallest_n(mean_width, relative_width * truth, n_accepted)
    rng = np.random.default_rng(seed + 1)
    rate, lower, upper = is_draws(pool, n, reps, rng, floor, n_strata)
    return {
        "n_labels": n,
        "mean_width": float(np.mean(upper - lower)),
        "coverage": float(np.mean((lower <= truth) & (truth <= upper))),
        "mean_rate": float(np.mean(rate)),
        "rate_standard_error": float(np.std(rate) / np.sqrt(reps)),
        "missed_low": float(np.mean(upper < truth)),
        "missed_high": float(np.mean(lower > truth)),
    }


def compare(args: argparse.Namespace) -> dict[str, object]:
    result: dict[str, object] = {}
    per_rate: dict[str, object] = {}
    for i, (name, rate) in enumerate(RATES.items()):
        pool = simulate_pool(args.pool, rate, blind_share=args.blind_share, seed=args.seed + i)
        rng = np.random.default_rng(args.seed + 100 + i)
        uniform = uniform_method(pool, args.reps, args.relative_width, rng)
        accepted = uniform_method(pool, args.reps, args.relative_width, rng, accepted_only=True)
        importance = is_method(
            pool, args.reps, args.relative_width, args.seed + 200, args.floor, args.n_strata
        )
        result[f"label_ratio_{name}"] = uniform["n_labels"] / importance["n_labels"]
        per_rate[name] = {
            "true_rate": pool.failure_rate,
            "n_failures_in_pool": int(pool.failures.sum()),
            "threshold": pool.threshold,
            "oracle_allocation_gain": oracle_allocation_gain(pool),
            "uniform": uniform,
            "uniform_over_accepted": accepted,
            "importance": importance,
        }
        print(
            f"rate {name}: uniform {uniform['n_labels']} labels (coverage "
            f"{uniform['coverage']:.3f}), importance {importance['n_labels']} labels "
            f"(coverage {importance['coverage']:.3f}), ratio {result[f'label_ratio_{name}']:.2f}"
        )
    for method, key in (("uniform", "coverage_uniform"), ("importance", "coverage_is")):
        result[key] = min(per_rate[name][method]["coverage"] for name in RATES)  # type: ignore[index]
    result["per_rate"] = per_rate
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--reps", type=int, default=2000, help="draws for coverage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool", type=int, default=2_000_000, help="samples per pool")
    parser.add_argument(
        "--relative-width", type=float, default=1.0, help="width target, times the true rate"
    )
    parser.add_argument("--blind-share", type=float, default=0.1, help="failures in a blind spot")
    parser.add_argument("--floor", type=float, default=0.5, help="importance design floor")
    parser.add_argument("--n-strata", type=int, default=10, help="importance design strata")
    args = parser.parse_args()

    started = time.perf_counter()
    result = compare(args)
    result["settings"] = {
        "pool": args.pool,
        "reps": args.reps,
        "seed": args.seed,
        "relative_width": args.relative_width,
        "confidence": CONFIDENCE,
        "blind_share": args.blind_share,
        "floor": args.floor,
        "n_strata": args.n_strata,
        "injury_rate": 0.025,
        "rejected_fraction": 0.5,
    }
    result["seconds"] = time.perf_counter() - started
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "per_rate"}, indent=2))


if __name__ == "__main__":
    main()
