"""Labels needed to estimate a filter's failure rate on a real classifier's scores: uniform
random sampling with a Clopper-Pearson interval against the importance-sampling design of
`highstakes.evaluation.importance`, and both against the best design possible (the bound).

usage: python benchmarks/estimation.py --model DIR --out estimation.json [--reps 2000]
       python benchmarks/estimation.py --simulated --out estimation-simulated.json

Data.  With --model, the classifier scores the yes/no snippets of the demo set's valid and
test splits and of the external set (cached beside --out in estimation-scores-<key>.npz,
keyed by the model folder and its files' sizes and times).  The valid split, which the
threshold was tuned on, is all the importance design may learn from: `fit_proposal` takes
its injurious snippets' scores.  The population is built from the test split and the
external set only, so the design never sees a label of a snippet it then estimates on.
The train split is left out: its scores are fitted, not predicted.

Population and bound: `highstakes.evaluation.pools` (`kernel_pool`, `bound`) builds the
pool from the real scores and gives the best score-only design's label ratio; its module
docstring has the method.

Measurement.  For each rate it finds the fewest labels with which a method's 95% interval
is, on average over draws, no wider than --relative-width times the true rate (1.0: upper
minus lower equals the rate), then counts over --reps draws how often each interval
contains the true pool rate.  A draw only matters through the failures it finds: k ~
hypergeometric for uniform sampling without replacement, one independent hypergeometric
count per stratum for the importance design, so draws are made that way.  Uniform widths
are exact expectations over that distribution.  `label_ratio` is uniform's labels over the
design's for the same width; it can pass the bound a little, as Clopper-Pearson is more
conservative than the design's interval.  `variance_ratio` (uniform's variance per label
over the design's) is the like-for-like figure: `variance_share_of_bound`.

--simulated keeps the earlier binormal score model (`simulate_pool`), where scores are
calibrated posteriors, so r(s) is the score itself below the threshold and the design's
proposal is sqrt(score).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from highstakes.evaluation.importance import (
    UNSEEN_WEIGHTS,
    ImportanceSampler,
    Proposal,
    fay_feuer_interval,
    fit_proposal,
    sqrt_score,
)
from highstakes.evaluation.pools import (
    ScoredSet,
    SimulatedPool,
    bound,
    kernel_pool,
    neighbor_likelihoods,
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
    pool: SimulatedPool, reps: int, relative_width: float, rng: np.random.Generator
) -> dict[str, float | int]:
    """Uniform sampling from the whole pool, labeling every draw."""
    truth, n_failures, population = pool.failure_rate, int(pool.failures.sum()), pool.scores.size

    def mean_width(n: int) -> float:
        _, pmf, bounds = uniform_widths(population, n_failures, n, 1.0)
        return float(pmf @ (bounds[:, 1] - bounds[:, 0]))

    n = smallest_n(mean_width, relative_width * truth, population)
    k, pmf, bounds = uniform_widths(population, n_failures, n, 1.0)
    covers = (bounds[:, 0] <= truth) & (truth <= bounds[:, 1])
    found = rng.hypergeometric(n_failures, population - n_failures, n, size=reps)
    return {
        "n_labels": n,
        "mean_width": mean_width(n),
        "mean_failures_found": float(pmf @ k),
        "coverage": float(np.mean(covers[np.clip(found - k[0], 0, k.size - 1)])),
        "exact_coverage": float(pmf @ covers),
    }


Design = Callable[[int, np.random.Generator], ImportanceSampler]  # (n_labels, rng) -> sampler


def is_draws(
    pool: SimulatedPool, design: Design, n: int, reps: int, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Estimates, intervals and failures found of `reps` independent runs of the design."""
    sampler = design(n, rng)
    sampler.design(pool.scores)
    in_pool = np.bincount(sampler.strata_[pool.failures], minlength=sampler.allocation_.size)
    found = rng.hypergeometric(
        in_pool, sampler.stratum_sizes_ - in_pool, sampler.allocation_, size=(reps, in_pool.size)
    )
    rate, lower, upper = fay_feuer_interval(
        found,
        sampler.stratum_weights_,
        CONFIDENCE,
        labeled=sampler.allocation_,
        sizes=sampler.stratum_sizes_,
        unseen=sampler.unseen,
    )
    return rate, lower, upper, found.sum(axis=1)


def is_method(
    pool: SimulatedPool,
    design: Design,
    reps: int,
    relative_width: float,
    seed: int,
    width_reps: int = 1000,
) -> dict[str, float | int]:
    truth = pool.failure_rate

    def mean_width(n: int) -> float:
        # The same seed at every n: common random numbers steady the search.
        _, lower, upper, _ = is_draws(pool, design, n, width_reps, np.random.default_rng(seed))
        return float(np.mean(upper - lower))

    n_accepted = int((pool.scores < pool.threshold).sum())
    n = smallest_n(mean_width, relative_width * truth, n_accepted)
    rate, lower, upper, found = is_draws(pool, design, n, reps, np.random.default_rng(seed + 1))
    return {
        "n_labels": n,
        "mean_width": float(np.mean(upper - lower)),
        "mean_failures_found": float(np.mean(found)),
        "coverage": float(np.mean((lower <= truth) & (truth <= upper))),
        "mean_rate": float(np.mean(rate)),
        "rate_standard_error": float(np.std(rate) / np.sqrt(reps)),
        # Uniform's variance per label over this design's, as the bound counts labels.
        "variance_ratio": truth * (1 - truth) / (float(np.var(rate)) * n),
        "missed_low": float(np.mean(upper < truth)),
        "missed_high": float(np.mean(lower > truth)),
    }


def evaluate_pool(
    pool: SimulatedPool,
    failure_posterior: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    proposal: Proposal,
    args: argparse.Namespace,
    seed: int,
) -> dict[str, Any]:
    """Uniform, importance and oracle-importance designs on one pool, and the bound."""
    r = failure_posterior(pool.scores)

    def design(chosen: Proposal) -> Design:
        def make(n: int, rng: np.random.Generator) -> ImportanceSampler:
            return ImportanceSampler(
                threshold=pool.threshold,
                n_labels=n,
                proposal=chosen,
                floor=args.floor,
                n_strata=args.n_strata,
                unseen=args.unseen,
                seed=rng,
            )

        return make

    def oracle(scores: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.sqrt(failure_posterior(scores))

    rng = np.random.default_rng(seed)
    uniform = uniform_method(pool, args.reps, args.relative_width, rng)
    importance = is_method(pool, design(proposal), args.reps, args.relative_width, seed + 1)
    best = is_method(pool, design(oracle), args.reps, args.relative_width, seed + 2)
    limit = bound(pool, r)
    accepted = pool.scores < pool.threshold
    return {
        "label_ratio": uniform["n_labels"] / importance["n_labels"],
        "bound": limit,
        "share_of_bound": uniform["n_labels"] / importance["n_labels"] / limit,
        "variance_share_of_bound": importance["variance_ratio"] / limit,
        "oracle_label_ratio": uniform["n_labels"] / best["n_labels"],
        "true_rate": pool.failure_rate,
        "pool": int(pool.scores.size),
        "n_failures_in_pool": int(pool.failures.sum()),
        "injurious_share": float(pool.injurious.mean()),
        "accepted_share": float(accepted.mean()),
        # The bound when failures are spread evenly over accepted scores: what skipping
        # rejected snippets alone is worth (the rest of the bound is the score's doing).
        "skip_rejected_bound": (1 - pool.failure_rate) / (accepted.mean() - pool.failure_rate),
        "mean_posterior": float(r.mean()),  # equals true_rate up to noise: r is right
        "uniform": uniform,
        "importance": importance,
        "importance_oracle": best,
    }


def summarize(per_rate: dict[str, dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, row in per_rate.items():
        for key in ("label_ratio", "bound", "share_of_bound"):
            result[f"{key}_{name}"] = row[key]
        print(
            f"rate {name}: uniform {row['uniform']['n_labels']} labels (coverage "
            f"{row['uniform']['coverage']:.3f}), importance {row['importance']['n_labels']} "
            f"(coverage {row['importance']['coverage']:.3f}, ratio {row['label_ratio']:.2f}), "
            f"oracle {row['importance_oracle']['n_labels']} (coverage "
            f"{row['importance_oracle']['coverage']:.3f}), bound {row['bound']:.2f}",
            flush=True,
        )
    for method, key in (("uniform", "coverage_uniform"), ("importance", "coverage_is")):
        result[key] = min(row[method]["coverage"] for row in per_rate.values())
    result["per_rate"] = per_rate
    return result


def compare_real(
    population: ScoredSet,
    calibration: ScoredSet,
    args: argparse.Namespace,
    rates: dict[str, float] = RATES,
) -> dict[str, Any]:
    """Every method on a kernel pool of `population` per rate; the design learns only
    from `calibration`."""
    proposal = fit_proposal(calibration.scores, calibration.injurious)
    likelihoods = neighbor_likelihoods(population)
    neighbors = args.neighbors or max(likelihoods, key=likelihoods.__getitem__)
    per_rate = {}
    for i, (name, rate) in enumerate(rates.items()):
        rng = np.random.default_rng(args.seed + i)
        drawn = kernel_pool(population, args.pool, rate, rng, neighbors)
        row = evaluate_pool(drawn.pool, drawn.failure_posterior, proposal, args, args.seed + 10 * i)
        row["pass_given_injurious"] = drawn.pass_given_injurious
        row["kernel_widths"] = drawn.bandwidths
        # How the bound moves with the smoothing: finer kernels pin failures down more.
        row["bound_by_neighbors"] = {}
        for k in likelihoods:
            other = kernel_pool(population, args.pool, rate, np.random.default_rng(args.seed), k)
            row["bound_by_neighbors"][k] = bound(
                other.pool, other.failure_posterior(other.pool.scores)
            )
        per_rate[name] = row
    result = summarize(per_rate)
    result["proposal"] = {
        "kind": "failure-density",
        "bandwidth": proposal.bandwidth,
        "n_validation_injurious": len(proposal.centres),
    }
    result["neighbors"] = neighbors
    result["neighbor_log_likelihood"] = likelihoods
    return result


def compare_simulated(args: argparse.Namespace, rates: dict[str, float] = RATES) -> dict[str, Any]:
    per_rate = {}
    for i, (name, rate) in enumerate(rates.items()):
        pool = simulate_pool(args.pool, rate, blind_share=args.blind_share, seed=args.seed + i)

        def posterior(scores: NDArray[np.float64], cut: float = pool.threshold) -> NDArray:
            return np.where(scores < cut, scores, 0.0)  # scores are calibrated posteriors

        per_rate[name] = evaluate_pool(pool, posterior, sqrt_score, args, args.seed + 10 * i)
    result = summarize(per_rate)
    result["proposal"] = {"kind": "sqrt-score"}
    return result


def _model_key(model: Path) -> str:
    """Changes when the model folder or its weights change."""
    parts = [str(model.resolve())]
    for file in sorted(model.iterdir()):
        if file.is_file():
            info = file.stat()
            parts.append(f"{file.name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def load_scores(model: Path, cache_dir: Path) -> dict[str, ScoredSet]:
    """The classifier's scores on the yes/no snippets of demo valid, demo test and the
    external set, scored once and cached in `cache_dir`."""
    cache = cache_dir / f"estimation-scores-{_model_key(model)}.npz"
    if cache.exists():
        stored = np.load(cache)
        threshold, sets = float(stored["threshold"]), stored["set"]
        scores, injurious = stored["scores"], stored["injurious"]
    else:
        from highstakes.data.demo import load_demo, load_external
        from highstakes.data.records import Label
        from highstakes.models.classifier import Classifier

        examples = [(x.split or "", x) for x in load_demo() if x.split in ("valid", "test")]
        examples += [("external", x) for x in load_external()]
        examples = [(name, x) for name, x in examples if x.label in (Label.YES, Label.NO)]
        clf = Classifier.from_pretrained(model)
        print(f"scoring {len(examples)} snippets with {model} (cached in {cache})", flush=True)
        scores = clf.score([x.snippet for _, x in examples])
        injurious = np.array([x.label == Label.YES for _, x in examples])
        sets, threshold = np.array([name for name, _ in examples]), clf.threshold
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.savez(
            cache,
            scores=scores,
            injurious=injurious,
            set=sets,
            threshold=threshold,
            model=str(model.resolve()),
        )
    return {
        name: ScoredSet(scores[mask], injurious[mask], threshold)
        for name, mask in (
            ("valid", sets == "valid"),
            ("population", (sets == "test") | (sets == "external")),
        )
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, help="saved classifier folder (highstakes.json)")
    source.add_argument("--simulated", action="store_true", help="binormal score model")
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--reps", type=int, default=2000, help="draws for coverage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool", type=int, default=4_000_000, help="snippets per pool")
    parser.add_argument(
        "--relative-width", type=float, default=1.0, help="width target, times the true rate"
    )
    parser.add_argument(
        "--neighbors", type=int, help="kernel width: distance to this neighbour (default: CV)"
    )
    parser.add_argument("--blind-share", type=float, default=0.1, help="--simulated blind spot")
    parser.add_argument("--floor", type=float, default=0.1, help="importance design floor")
    parser.add_argument("--n-strata", type=int, default=10, help="importance design strata")
    parser.add_argument(
        "--unseen", choices=UNSEEN_WEIGHTS, default="mean", help="interval's unseen failure"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.simulated:
        result = compare_simulated(args)
    else:
        sets = load_scores(args.model, args.out.parent)
        result = compare_real(sets["population"], sets["valid"], args)
        result["model"] = str(args.model)
        result["threshold"] = sets["population"].threshold
        result["data"] = {
            name: {
                "n": int(s.scores.size),
                "n_injurious": int(s.injurious.sum()),
                "n_failing": int(np.sum(s.injurious & (s.scores < s.threshold))),
            }
            for name, s in sets.items()
        }
    result["settings"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    result["settings"]["confidence"] = CONFIDENCE
    result["seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "per_rate"}, indent=2))
    return result


if __name__ == "__main__":
    main()
