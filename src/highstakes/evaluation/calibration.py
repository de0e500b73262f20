"""Choosing the filter's threshold: as conservative as quality allows (seed, step 3).

Two rules, usable together:

(a) *Recall*: the highest threshold that flags `target_recall` of the validation
    positives (`threshold_for_recall`).
(b) *Quality budget*: the lowest threshold at which filtered completions are still about
    as good as unfiltered ones.  The seed rejected over half of all completions while
    raters preferred unfiltered ones only ~51% of the time (50% = no cost).

Quality comes from pairwise human ratings when there are any: each rating records the
threshold its filtered completion was drawn at and which completion the rater preferred.
Ratings are grouped by threshold, and a level passes when the exact one-sided upper
confidence bound (Clopper-Pearson) on the preference for unfiltered is at most
0.5 + epsilon.  Levels are tested from the least conservative down and testing stops at
the first failure (a fixed-sequence procedure: no multiplicity correction is needed and
the chance of certifying any failing level stays under 1 - confidence; see Angelopoulos
et al. 2021, "Learn then Test", for this use in threshold calibration).  Without ratings,
the likelihood rater of `evaluation.quality` stands in, tested two-sided on a fine grid
in the same fixed sequence.

When the quality budget allows a higher threshold than the recall target needs, the
budget's (lower) threshold is kept; when it forbids reaching the target recall, the
budget wins and `recall_met_` is False.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from highstakes.data.jsonl import JsonlError, iter_jsonl
from highstakes.evaluation.metrics import threshold_for_recall
from highstakes.evaluation.quality import CompletionSample, ProxyQuality, proxy_quality
from highstakes.evaluation.reliability import clopper_pearson, upper_bound

log = logging.getLogger(__name__)

PREFERENCES = ("filtered", "unfiltered", "same")  # "same": the studio's tie


@dataclass(frozen=True)
class Rating:
    """One pairwise judgement: a completion filtered at `threshold` against an unfiltered
    completion of the same prompt, and which one the rater preferred."""

    threshold: float
    preferred: str  # "filtered", "unfiltered" or "same"


def read_ratings(path: str | Path) -> list[Rating]:
    """Ratings from JSONL rows `{"threshold": 0.01, "preferred": "unfiltered", ...}`, as
    the studio exports them (other fields are ignored)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such ratings file: {path}")
    ratings: list[Rating] = []
    problems: list[str] = []

    def note(error: JsonlError) -> None:
        problems.append(f"line {error.line}: {error.message}")

    for number, row in iter_jsonl(path, on_error=note):
        missing = [key for key in ("threshold", "preferred") if key not in row]
        if missing:
            problems.append(f"line {number}: missing {' and '.join(map(repr, missing))}")
            continue
        try:
            threshold, preferred = float(row["threshold"]), str(row["preferred"])
        except (TypeError, ValueError):
            problems.append(
                f"line {number}: 'threshold' must be a number, got {row['threshold']!r}"
            )
            continue
        if preferred not in PREFERENCES or not 0 < threshold <= 1:
            problems.append(
                f"line {number}: 'preferred' must be filtered, unfiltered or same and "
                "'threshold' "
                f"in (0, 1], got {preferred!r} and {threshold}"
            )
            continue
        ratings.append(Rating(threshold, preferred))
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems[:5]))
    return ratings


@dataclass(frozen=True)
class RatedLevel:
    threshold: float
    n_ratings: int
    n_ties: int
    n_unfiltered_preferred: int  # counting half the ties, rounded up
    preference_for_unfiltered: float
    # Exact one-sided Clopper-Pearson bounds, each at `confidence` (the two-sided interval
    # at 2 * confidence - 1), as for the proxy's bootstrap bounds.  `upper` is checked.
    lower: float
    upper: float
    tested: bool  # False: too few ratings to ever pass, so skipped (decided from n alone)
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rated_levels(ratings: list[Rating], epsilon: float, confidence: float) -> list[RatedLevel]:
    """Fixed-sequence test of each rated threshold, least conservative first."""
    limit = 0.5 + epsilon
    levels, still_testing = [], True
    for threshold in sorted({r.threshold for r in ratings}, reverse=True):
        n = sum(r.threshold == threshold for r in ratings)
        here = [r.preferred for r in ratings if r.threshold == threshold]
        n_ties = here.count("same")
        # A tie is half a vote each way, so "no quality cost" stays at 0.5; the half-votes
        # are rounded up against the filter so the exact binomial bound stays conservative.
        k = here.count("unfiltered") + math.ceil(n_ties / 2)
        lower = clopper_pearson(k, n, 2 * confidence - 1)[0]
        bound = upper_bound(k, n, confidence)
        # Skipping a level that could not pass even with k = 0 depends on n only, so the
        # testing order is still fixed before looking at outcomes.
        tested = still_testing and upper_bound(0, n, confidence) <= limit
        passed = tested and bound <= limit
        if tested and not passed:
            still_testing = False
        levels.append(RatedLevel(threshold, n, n_ties, k, k / n, lower, bound, tested, passed))
    return levels


def search_grid(
    *observed: np.ndarray, n_grid: int = 200, min_threshold: float = 1e-6
) -> np.ndarray:
    """Log-spaced thresholds from `min_threshold` to 1 plus observed values in range, where
    recall and rejection rates jump.  Many observed values are thinned to quantiles."""
    values = np.concatenate([np.ravel(o) for o in observed]) if observed else np.zeros(0)
    values = values[np.isfinite(values) & (values >= min_threshold) & (values <= 1)]
    if values.size > 4 * n_grid:
        values = np.quantile(values, np.linspace(0, 1, 4 * n_grid))
    return np.unique(np.concatenate([np.geomspace(min_threshold, 1, n_grid), values]))


@dataclass(frozen=True)
class TradeoffCurve:
    """Per threshold: rejection rate, recall and quality (NaN where unmeasured)."""

    thresholds: np.ndarray
    rejection_rate: np.ndarray
    recall: np.ndarray  # on validation positives
    false_positive_rate: np.ndarray  # on validation negatives
    preference_for_unfiltered: np.ndarray
    preference_lower: np.ndarray
    preference_upper: np.ndarray
    quality_source: str  # "ratings", "likelihood-proxy" or "none"
    rejection_source: str  # "completion-sample" or "validation"
    extra: dict[str, np.ndarray]  # proxy diagnostics (fallback rate, length ratio, ...)

    def as_dict(self) -> dict[str, Any]:
        arrays = {
            k: getattr(self, k)
            for k in (
                "thresholds",
                "rejection_rate",
                "recall",
                "false_positive_rate",
                "preference_for_unfiltered",
                "preference_lower",
                "preference_upper",
            )
        }
        arrays.update(self.extra)
        return {
            "quality_source": self.quality_source,
            "rejection_source": self.rejection_source,
            **{k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in arrays.items()},
        }


class ThresholdCalibrator:
    """Pick the most conservative threshold that keeps quality, and/or meets a recall target.

    Parameters are stored as given (scikit-learn style); `fit` learns `threshold_`,
    `curve_`, `recall_threshold_`, `quality_threshold_`, `levels_` (rated thresholds),
    `proxy_` (likelihood-rater results), `limited_by_` and `recall_met_`.
    `epsilon` = 0.05 by default: the bound also pays for sampling error, and at 0.05 about
    400 ratings at a level where raters are indifferent pass (upper bound 0.542).
    """

    def __init__(
        self,
        target_recall: float | None = None,
        epsilon: float = 0.05,
        confidence: float = 0.95,
        max_tries: int = 16,
        n_grid: int = 200,
        min_threshold: float = 1e-6,
        n_bootstrap: int = 1000,
        random_state: int = 0,
    ) -> None:
        self.target_recall = target_recall
        self.epsilon = epsilon
        self.confidence = confidence
        self.max_tries = max_tries
        self.n_grid = n_grid
        self.min_threshold = min_threshold
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    def fit(
        self,
        labels: np.ndarray,
        scores: np.ndarray,
        *,
        ratings: list[Rating] | None = None,
        sample: CompletionSample | None = None,
    ) -> ThresholdCalibrator:
        """`labels` (1 = positive) and `scores` are the validation split's; `ratings` or a
        completion `sample` (used when there are no ratings) give quality."""
        labels, scores = self._check(labels, scores)
        self.recall_threshold_ = (
            threshold_for_recall(labels, scores, self.target_recall) if self.target_recall else None
        )
        grid = search_grid(
            scores[labels == 1],
            sample.scores if sample is not None else np.zeros(0),
            n_grid=self.n_grid,
            min_threshold=self.min_threshold,
        )
        # Thresholds that may be chosen are always on the grid, never thinned away.
        exact = [r.threshold for r in ratings or []] + [self.recall_threshold_ or 1.0]
        grid = np.unique(np.concatenate([grid, exact]))
        self.levels_: list[RatedLevel] = []
        self.proxy_: ProxyQuality | None = None
        if ratings:
            self.levels_ = rated_levels(ratings, self.epsilon, self.confidence)
            passed = [lv.threshold for lv in self.levels_ if lv.passed]
            self.quality_threshold_ = min(passed) if passed else None
        elif sample is not None:
            self.proxy_ = proxy_quality(
                sample, grid, self.max_tries, self.confidence, self.n_bootstrap, self.random_state
            )
            self.quality_threshold_ = self._proxy_threshold(self.proxy_)
        else:
            self.quality_threshold_ = None
        self._choose(quality_measured=bool(ratings) or sample is not None)
        self.curve_ = self._curve(grid, labels, scores, sample)
        return self

    def _check(self, labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        labels, scores = np.asarray(labels).astype(int), np.asarray(scores, dtype=float)
        if labels.shape != scores.shape or labels.ndim != 1:
            raise ValueError("labels and scores must be 1-d arrays of the same length")
        if not np.isin(labels, (0, 1)).all():
            raise ValueError("labels must be 0 (negative) or 1 (positive)")
        if not 0 < self.epsilon < 0.5 or not 0.5 < self.confidence < 1:
            raise ValueError("epsilon must be in (0, 0.5) and confidence in (0.5, 1)")
        return labels, scores

    def _proxy_threshold(self, proxy: ProxyQuality) -> float | None:
        """Walk the grid down from 1 and stop at the first threshold outside the band."""
        inside = (proxy.upper <= 0.5 + self.epsilon) & (proxy.lower >= 0.5 - self.epsilon)
        best = None
        for threshold, ok in zip(proxy.thresholds[::-1], inside[::-1], strict=True):
            if not ok:
                break
            best = float(threshold)
        return best

    def _choose(self, quality_measured: bool) -> None:
        q, r = self.quality_threshold_, self.recall_threshold_
        if q is not None:
            self.threshold_, self.limited_by_ = q, "quality"
            self.recall_met_ = None if r is None else q <= r
            if r is not None and q > r:
                log.warning(
                    "the quality budget allows no threshold below %.3g, so the target recall "
                    "(threshold %.3g) is not met; collect ratings or raise epsilon",
                    q,
                    r,
                )
        elif r is not None:
            self.threshold_, self.limited_by_, self.recall_met_ = r, "recall", True
            if quality_measured:
                log.warning("no threshold was certified for quality; using the recall target")
        else:
            raise ValueError(
                "nothing to calibrate on: give a target recall, or ratings or a completion "
                "sample that certify at least one threshold"
            )

    def _curve(
        self,
        grid: np.ndarray,
        labels: np.ndarray,
        scores: np.ndarray,
        sample: CompletionSample | None,
    ) -> TradeoffCurve:
        flags = scores[None, :] >= grid[:, None]  # (G, N)
        pos, neg = labels == 1, labels == 0
        recall = flags[:, pos].mean(axis=1) if pos.any() else np.full(grid.size, np.nan)
        fpr = flags[:, neg].mean(axis=1) if neg.any() else np.full(grid.size, np.nan)
        if sample is not None and sample.valid.any():
            generated = sample.scores[sample.valid]
            rejection, rejection_source = (
                (generated[None] >= grid[:, None]).mean(axis=1),
                "completion-sample",
            )
        else:
            rejection, rejection_source = flags.mean(axis=1), "validation"
        pref, lower, upper = (np.full(grid.size, np.nan) for _ in range(3))
        extra: dict[str, np.ndarray] = {}
        source = "none"
        if self.levels_:
            source = "ratings"
            for lv in self.levels_:
                i = int(np.argmin(np.abs(grid - lv.threshold)))
                pref[i], lower[i], upper[i] = lv.preference_for_unfiltered, lv.lower, lv.upper
        elif self.proxy_ is not None:
            source = "likelihood-proxy"
            pref, lower, upper = (
                self.proxy_.preference_for_unfiltered,
                self.proxy_.lower,
                self.proxy_.upper,
            )
            extra = {
                k: getattr(self.proxy_, k)
                for k in ("fallback_rate", "logprob_drop", "length_ratio", "distinct2_ratio")
            }
        return TradeoffCurve(
            grid, rejection, recall, fpr, pref, lower, upper, source, rejection_source, extra
        )

    def summary(self) -> dict[str, Any]:
        """The learned choice at a glance (JSON-friendly)."""
        i = int(np.argmin(np.abs(self.curve_.thresholds - self.threshold_)))
        at = {k: v[i] for k, v in self.curve_.as_dict().items() if isinstance(v, list)}
        return {
            "threshold": self.threshold_,
            "limited_by": self.limited_by_,
            "recall_threshold": self.recall_threshold_,
            "quality_threshold": self.quality_threshold_,
            "recall_met": self.recall_met_,
            "epsilon": self.epsilon,
            "confidence": self.confidence,
            "quality_source": self.curve_.quality_source,
            "at_threshold": at,
            "rated_levels": [lv.as_dict() for lv in self.levels_],
        }
