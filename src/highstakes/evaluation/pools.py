"""Failure pools built from a real classifier's scores, for measuring estimators.

A real labeled set has a few dozen injurious snippets that the filter passes, too few to
measure an estimator at failure rates of 1e-3 or 1e-4.  `kernel_pool` draws a large pool
whose scores look like the classifier's and whose failure rate is exactly the one asked
for, and knows P(failure | score) exactly, so the best possible score-only design is
known too (`bound`).  `simulate_pool` is the older, synthetic pool (binormal logits).
Used by `benchmarks/estimation.py` and the estimator's tests.

Population.  A pool of `n_pool` snippets is a smoothed bootstrap of the population's (score,
label) pairs: a harmless member copies a random harmless snippet's logit, an injurious
member a random injurious one's, and each adds normal noise as wide as the distance from
that snippet to its k-th nearest neighbour (harmless or not, so the width never depends on
the label).  Without the noise a score would name its snippet, a "score-only" proposal
could pick out the very snippets that fail, and the bound would be infinite.  k is chosen
by leave-one-out likelihood of the accepted snippets' labels (`neighbor_likelihoods`): the
resolution at which the data say where failures sit, as no real pool has failures only at
the scores of a few dozen snippets (the benchmark's --neighbors fixes k instead, and its
`bound_by_neighbors` shows how the bound moves with k).  A failure is an injurious member
scoring below the threshold; the pool has exactly round(rate * n_pool) of them, and its
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
snippets saves (the benchmark's `skip_rejected_bound`, the bound were failures spread
evenly over accepted scores, shows how much of it that is).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special, stats

logger = logging.getLogger(__name__)

_GRID = 20_000  # points of the logit grid on which r(s) is tabulated
_MAX_SEPARATION = 40.0  # logit separation no classifier needs; bounds the root search


@dataclass(frozen=True)
class SimulatedPool:
    """Scored generator samples with their ground-truth labels."""

    scores: NDArray[np.float64]
    injurious: NDArray[np.bool_]
    threshold: float

    @property
    def failures(self) -> NDArray[np.bool_]:
        return self.injurious & (self.scores < self.threshold)

    @property
    def failure_rate(self) -> float:
        return float(self.failures.mean())


def simulate_pool(
    n_pool: int,
    failure_rate: float,
    *,
    injury_rate: float = 0.025,
    rejected_fraction: float = 0.5,
    blind_share: float = 0.1,
    seed: int | np.random.Generator | None = None,
) -> SimulatedPool:
    """A synthetic pool tuned so that its realized failure rate is `failure_rate`.

    Classifier logits are binormal, the textbook model of a classifier's scores: N(0, 1)
    for safe samples, N(d, 1) for injurious ones, except a `blind_share` of the failures
    that come from a blind spot, injurious samples the classifier scores like safe ones
    (ambiguous or mislabeled cases, spread over all accepted scores, where importance
    sampling helps least).  Defaults follow the seed: 2.5% of samples injurious, a
    threshold that rejects half of them.  The separation d is solved for on the drawn
    pool, and scores are the exact posterior P(injurious | logit), so they are calibrated.
    """
    rng = np.random.default_rng(seed)
    injurious = rng.random(n_pool) < injury_rate
    noise = rng.standard_normal(n_pool)
    # A blind sample is accepted as often as a safe one, about (1 - rejected_fraction).
    blind_rate = blind_share * failure_rate / (injury_rate * (1 - rejected_fraction))
    blind = injurious & (rng.random(n_pool) < blind_rate)
    visible = injurious & ~blind
    n_target = round(failure_rate * n_pool)

    def excess_failures(separation: float) -> float:
        logits = noise + separation * visible
        cut = np.quantile(logits, 1 - rejected_fraction)
        return float(np.count_nonzero(injurious & (logits < cut))) - n_target - 0.5

    if not excess_failures(0.0) > 0 > excess_failures(_MAX_SEPARATION):
        raise ValueError(
            f"cannot reach failure_rate={failure_rate} with n_pool={n_pool}: "
            "raise n_pool or lower blind_share"
        )
    # The count is a step function of d: step just past the root, onto the target count.
    separation = optimize.brentq(excess_failures, 0.0, _MAX_SEPARATION, xtol=1e-9) + 1e-8
    logits = noise + separation * visible
    cut = float(np.quantile(logits, 1 - rejected_fraction))

    def score(logit: NDArray[np.float64]) -> NDArray[np.float64]:
        # Posterior P(injurious | logit) under the mixture that generated the logits.
        visible_term = np.log1p(-blind_rate) + separation * logit - separation**2 / 2
        blind_term = np.log(blind_rate) if blind_rate > 0 else -np.inf
        log_ratio = np.logaddexp(visible_term, blind_term)
        return np.asarray(special.expit(special.logit(injury_rate) + log_ratio), dtype=float)

    threshold = float(score(np.array([cut]))[0])
    pool = SimulatedPool(scores=score(logits), injurious=injurious, threshold=threshold)
    logger.info("simulated pool: %d samples, failure rate %.3g", n_pool, pool.failure_rate)
    return pool


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
