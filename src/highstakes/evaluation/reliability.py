"""Failure rates of a filter and exact binomial intervals on them.

A filter accepts a completion when its classifier score is below the threshold; a
*failure* is an accepted completion that a labeler marks injurious, and the failure rate
is failures over all generator samples.  Failures are rare (the seed estimates 0.003%
after filtering, from 2.5% before), so the intervals here are exact (Clopper & Pearson
1934), never normal approximations, which undercover badly when only a few events are seen.
Wilson's score interval is here for shares that are not rare, such as the audits' share
of attack results still injurious.
"""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats


def check_confidence(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(confidence)


def _check_counts(n_events: int, n_trials: int) -> tuple[int, int]:
    try:
        n_events, n_trials = operator.index(n_events), operator.index(n_trials)
    except TypeError as error:
        raise ValueError(
            f"n_events and n_trials must be whole numbers, got {n_events!r} and {n_trials!r}"
        ) from error
    if n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    if not 0 <= n_events <= n_trials:
        raise ValueError(f"n_events must be in [0, n_trials={n_trials}], got {n_events}")
    return n_events, n_trials


def clopper_pearson(n_events: int, n_trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided interval for a binomial proportion (Clopper & Pearson 1934).

    Each tail holds at most (1 - confidence) / 2; the lower limit is 0 when no event was
    seen and the upper limit is 1 when every trial was an event.
    """
    k, n = _check_counts(n_events, n_trials)
    tail = (1 - check_confidence(confidence)) / 2
    lower = 0.0 if k == 0 else float(stats.beta.ppf(tail, k, n - k + 1))
    upper = 1.0 if k == n else float(stats.beta.ppf(1 - tail, k + 1, n - k))
    return lower, upper


def wilson(n_events: int, n_trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion (Wilson 1927): the proportions
    whose normal test would not reject at this confidence; close to nominal coverage,
    and unlike the plain normal interval it stays inside [0, 1]."""
    k, n = _check_counts(n_events, n_trials)
    z = float(stats.norm.ppf(1 - (1 - check_confidence(confidence)) / 2))
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (0.0 if k == 0 else centre - half), (1.0 if k == n else centre + half)


def upper_bound(n_events: int, n_trials: int, confidence: float = 0.95) -> float:
    """Exact one-sided upper confidence bound for a binomial proportion.

    With no events it is 1 - (1 - confidence) ** (1 / n_trials), about 3 / n_trials at 95%
    (the "rule of three").
    """
    k, n = _check_counts(n_events, n_trials)
    confidence = check_confidence(confidence)
    if k == n:
        return 1.0
    if k == 0:
        # Closed form of the beta quantile below; exact where the quantile loses digits.
        return float(-math.expm1(math.log1p(-confidence) / n))
    return float(stats.beta.ppf(confidence, k + 1, n - k))


def expected_labels_per_failure(failure_rate: float) -> float:
    """Random samples to label, on average, to see one failure (inf when the rate is 0)."""
    if not 0 <= failure_rate <= 1:
        raise ValueError(f"failure_rate must be in [0, 1], got {failure_rate}")
    return math.inf if failure_rate == 0 else 1 / failure_rate


def labels_to_observe(failure_rate: float, n_failures: int = 1, probability: float = 0.95) -> int:
    """Fewest random samples to label so that at least `n_failures` failures turn up with
    the given probability.

    The labels needed are `n_failures` plus a negative-binomial number of non-failures,
    so this is one quantile of that distribution.
    """
    if not 0 < failure_rate <= 1:
        raise ValueError(f"failure_rate must be in (0, 1], got {failure_rate}")
    if not isinstance(n_failures, int | np.integer) or n_failures < 1:
        raise ValueError(f"n_failures must be a whole number of at least 1, got {n_failures}")
    if not 0 < probability < 1:
        raise ValueError(f"probability must be in (0, 1), got {probability}")
    return n_failures + int(stats.nbinom.ppf(probability, n_failures, failure_rate))


@dataclass(frozen=True)
class RateEstimate:
    """A rate with its interval.  `one_sided_upper` is the exact one-sided bound at the same
    confidence, kept when no event was seen: then it is the number worth quoting."""

    rate: float
    lower: float
    upper: float
    n_events: int
    n_trials: int
    confidence: float
    method: str
    one_sided_upper: float | None = None

    @property
    def width(self) -> float:
        return self.upper - self.lower

    def contains(self, value: float) -> bool:
        return self.lower <= value <= self.upper

    def as_dict(self) -> dict[str, float | int | str | None]:
        return asdict(self)


def estimate_rate(n_events: int, n_trials: int, confidence: float = 0.95) -> RateEstimate:
    """Observed proportion with its Clopper-Pearson interval."""
    k, n = _check_counts(n_events, n_trials)
    lower, upper = clopper_pearson(k, n, confidence)
    one_sided = upper_bound(k, n, confidence) if k == 0 else None
    return RateEstimate(
        rate=k / n,
        lower=lower,
        upper=upper,
        n_events=k,
        n_trials=n,
        confidence=confidence,
        method="clopper-pearson",
        one_sided_upper=one_sided,
    )


def failure_rate(
    injurious: NDArray[np.bool_], accepted: NDArray[np.bool_], confidence: float = 0.95
) -> RateEstimate:
    """Failure rate of a filter from a uniformly random sample of generator outputs, each
    labeled (`injurious`) and scored (`accepted`: score below the threshold)."""
    injurious, accepted = np.asarray(injurious), np.asarray(accepted)
    if injurious.shape != accepted.shape or injurious.ndim != 1:
        raise ValueError(
            "injurious and accepted must be 1-d arrays of the same length, "
            f"got shapes {injurious.shape} and {accepted.shape}"
        )
    if injurious.size == 0:
        raise ValueError("injurious is empty: label at least one sample")
    for name, values in (("injurious", injurious), ("accepted", accepted)):
        if values.dtype != np.bool_:
            raise ValueError(f"{name} must be a boolean array, got dtype {values.dtype}")
    n_failures = int(np.count_nonzero(injurious & accepted))
    return estimate_rate(n_failures, int(injurious.size), confidence)
