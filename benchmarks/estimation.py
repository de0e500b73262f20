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

Population.  A pool of --pool snippets is a smoothed bootstrap of the population's (score,
label) pairs: a harmless member copies a random harmless snippet's logit, an injurious
member a random injurious one's, and each adds normal noise as wide as the distance from
that snippet to its k-th nearest neighbour (harmless or not, so the width never depends on
the label).  Without the noise a score would name its snippet, a "score-only" proposal
could pick out the very snippets that fail, and the bound would be infinite.  k is chosen
by leave-one-out likelihood of the accepted snippets' labels (`neighbor_likelihoods`): the
resolution at which the data say where failures sit, as no real pool has failures only at
the scores of a few dozen snippets.  --neighbors fixes k instead; `bound_by_neighbors`
shows how the bound moves with it.  A failure is an injurious member scoring below the
threshold; the pool has exactly rate * pool of them for rates 1e-3 and 1e-4, and its
injurious share is rate / P(pass | injurious).

Bound.  A design that may look only at scores labels a snippet of score s with probability
proportional to q(s); the unbiased weighted estimate of the failure rate mu has, per
label, variance V(q) = sum_s p(s)^2 r(s) / q(s) - mu^2, with p the pool's score
distribution and r(s) = P(failure | s).  Minimising over q with sum_s q(s) = 1 (Lagrange:
p^2 r / q^2 is the same for every s; or Cauchy-Schwarz on sqrt(p^2 r / q) times sqrt(q))
gives q*(s) = p(s) sqrt(r(s)) / sum_t p(t) sqrt(r(t)) and V(q*) = (E_p[sqrt r])^2 - mu^2.
Uniform sampling (q = p) has V = mu (1 - mu), and labels for a given precision scale with
the variance, so the bound on the label ratio is mu (1 - mu) / ((E_p[sqrt r])^2 - mu^2).
Here r is known exactly, because the pool is drawn from known kernels: r(s) = failure
kernel density / pool kernel density at s, and E_p[sqrt r] is averaged over the pool's
scores.  sqrt(r) is zero above the threshold, so the bound includes what skipping rejected
snippets saves; `skip_rejected_bound`, the bound were failures spread evenly over accepted
scores, shows how much of it that is.  The importance design is also run with the true r
as its proposal (`importance_oracle`): the same strata and interval, perfect knowledge.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

from highstakes.evaluation.importance import (
    UNSEEN_WEIGHTS,
    ImportanceSampler,
    Proposal,
    SimulatedPool,
    fay_feuer_interval,
    fit_proposal,
    simulate_pool,
    sqrt_score,
)
from highstakes.evaluation.reliability import clopper_pearson

RATES = {"1e-3": 1e-3, "1e-4": 1e-4}
CONFIDENCE = 0.95
_GRID = 20_000  # points of the logit grid on which r(s) is tabulated


@dataclass(frozen=True)
class ScoredSet:
    """Real (score, label) pairs of one classifier, with its threshold."""

    scores: NDArray[np.float64]
    injurious: NDArray[np.bool_]
    threshold: float


def _logit(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(special.logit(np.clip(scores, 1e-12, 1 - 1e-12)), dtype=float)


def local_bandwidths(logits: NDArray[np.float64], neighbors: int) -> NDArray[np.float64]:
    """Each snippet's kernel width: the distance to its `neighbors`-th nearest neighbour
    among all snippets, harmless or not (an adaptive kernel that smooths as far as the
    data are sparse, and never by label)."""
    distance = np.abs(logits[:, None] - logits[None, :])
    k = min(neighbors, logits.size - 1)
    width = np.partition(distance, k, axis=1)[:, k]
    return np.maximum(width, 1e-3)  # duplicates: keep a kernel, however narrow


NEIGHBOR_GRID = (5, 10, 20, 40, 80, 160, 320)


def neighbor_likelihoods(
    data: ScoredSet, grid: tuple[int, ...] = NEIGHBOR_GRID
) -> dict[int, float]:
    """Leave-one-out log-likelihood of the accepted snippets' labels under the kernel
    estimate of P(injurious | logit) at each kernel width in `grid`: how finely the data
    resolve where failures sit (likelihood cross-validation, Silverman 1986, sec. 3.4.4)."""
    logits = _logit(data.scores)
    accepted = np.flatnonzero(data.scores < data.threshold)
    result = {}
    for k in grid:
        if k >= logits.size:
            continue
        kernel = stats.norm.pdf(logits[accepted, None], logits, local_bandwidths(logits, k))
        kernel[np.arange(accepted.size), accepted] = 0  # leave the snippet itself out
        p = np.clip(kernel @ data.injurious / kernel.sum(axis=1), 1e-6, 1 - 1e-6)
        labels = data.injurious[accepted]
        result[k] = float(np.sum(np.where(labels, np.log(p), np.log1p(-p))))
    return result


@dataclass(frozen=True)
class KernelPool:
    """A pool drawn from kernels around real logits, with its true P(failure | score)."""

    pool: SimulatedPool
    injurious_share: float
    pass_given_injurious: float
    bandwidths: dict[str, float | None]  # median kernel widths, in logits
    failure_posterior: Callable[[NDArray[np.float64]], NDArray[np.float64]]  # r(s)


def _kernel_draw(
    centres: NDArray[np.float64],
    widths: NDArray[np.float64],
    size: int,
    low: float,
    high: float,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """`size` draws from the equal mixture of N(centre, width^2), truncated to [low, high)."""
    a, b = (low - centres) / widths, (high - centres) / widths
    mass = stats.norm.cdf(b) - stats.norm.cdf(a)
    source = rng.choice(centres.size, size=size, p=mass / mass.sum())
    draws = stats.truncnorm.rvs(
        a[source], b[source], loc=centres[source], scale=widths[source], random_state=rng
    )
    return np.asarray(draws, dtype=float)


def _mixture_density(
    centres: NDArray[np.float64], widths: NDArray[np.float64], x: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Density at x of the equal mixture of N(centre, width^2), in chunks of x."""
    out = np.empty(x.size)
    for start in range(0, x.size, 1_000):
        z = (x[start : start + 1_000, None] - centres) / widths  # (chunk, centres)
        out[start : start + 1_000] = np.mean(np.exp(-0.5 * z**2) / widths, axis=1)
    return out / np.sqrt(2 * np.pi)


def kernel_pool(
    data: ScoredSet,
    n_pool: int,
    failure_rate: float,
    rng: np.random.Generator,
    neighbors: int = 20,
) -> KernelPool:
    """A pool of `n_pool` with exactly round(failure_rate * n_pool) failures (module doc)."""
    logits, cut = _logit(data.scores), float(_logit(np.array([data.threshold]))[0])
    widths = local_bandwidths(logits, neighbors)
    harmless, injurious = logits[~data.injurious], logits[data.injurious]
    h_harmless, h_injurious = widths[~data.injurious], widths[data.injurious]
    pass_given_injurious = float(np.mean(stats.norm.cdf((cut - injurious) / h_injurious)))
    n_failures = round(failure_rate * n_pool)
    n_injurious = round(n_failures / pass_given_injurious)
    if not 0 < n_failures <= n_injurious <= n_pool:
        raise ValueError(
            f"cannot reach failure rate {failure_rate} in a pool of {n_pool}: "
            f"{pass_given_injurious:.3g} of injurious snippets pass; raise --pool"
        )
    n_harmless = n_pool - n_injurious
    parts = [
        _kernel_draw(harmless, h_harmless, n_harmless, -np.inf, np.inf, rng),
        _kernel_draw(injurious, h_injurious, n_failures, -np.inf, cut, rng),
        _kernel_draw(injurious, h_injurious, n_injurious - n_failures, cut, np.inf, rng),
    ]
    threshold = float(special.expit(cut))
    scores = np.asarray(special.expit(np.concatenate(parts)), dtype=float)
    # Rounding in expit must not move a member across the threshold.
    passed = slice(n_harmless, n_harmless + n_failures)
    scores[passed] = np.minimum(scores[passed], np.nextafter(threshold, 0))
    scores[n_harmless + n_failures :] = np.maximum(scores[n_harmless + n_failures :], threshold)

    # r(s) on a grid: the failures' kernel density over everyone's, both per pool member.
    grid = np.linspace(min(float(part.min()) for part in parts if part.size), cut, _GRID)
    failing = n_failures / pass_given_injurious * _mixture_density(injurious, h_injurious, grid)
    everyone = n_harmless * _mixture_density(harmless, h_harmless, grid) + failing
    r_grid = np.divide(failing, everyone, out=np.zeros_like(grid), where=everyone > 0)

    def failure_posterior(score: NDArray[np.float64]) -> NDArray[np.float64]:
        x = _logit(np.asarray(score, dtype=float))
        return np.where(score < threshold, np.interp(x, grid, r_grid), 0.0)

    return KernelPool(
        pool=SimulatedPool(
            scores=scores, injurious=np.arange(n_pool) >= n_harmless, threshold=threshold
        ),
        injurious_share=n_injurious / n_pool,
        pass_given_injurious=pass_given_injurious,
        bandwidths={
            "median_harmless_accepted": _median(h_harmless[harmless < cut]),
            "median_failing": _median(h_injurious[injurious < cut]),
        },
        failure_posterior=failure_posterior,
    )


def _median(values: NDArray[np.float64]) -> float | None:
    return float(np.median(values)) if values.size else None


def bound(pool: SimulatedPool, failure_posterior: NDArray[np.float64]) -> float:
    """Label ratio of the best score-only proposal over uniform sampling (module doc):
    mu (1 - mu) / ((E_p[sqrt r])^2 - mu^2), with r the true P(failure | score) per member."""
    mu = pool.failure_rate
    best = float(np.mean(np.sqrt(failure_posterior))) ** 2 - mu**2
    return mu * (1 - mu) / best if best > 0 else float("inf")


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
