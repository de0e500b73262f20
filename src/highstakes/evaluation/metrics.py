"""Classification metrics at a threshold, where scores are P(positive) and positives are flagged
when their score is at or above the threshold."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score


@dataclass(frozen=True)
class ThresholdMetrics:
    threshold: float
    auroc: float
    recall: float  # flagged positives / positives
    false_positive_rate: float  # flagged negatives / negatives
    n_positive: int
    n_negative: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    labels = np.asarray(labels)
    if labels.min(initial=1) == labels.max(initial=0):
        return math.nan
    return float(roc_auc_score(labels, scores))


def high_recall_auroc(labels: np.ndarray, scores: np.ndarray, min_recall: float = 0.9) -> float:
    """Partial AUROC over the operating region a filter works in, recall >= `min_recall`,
    standardized so that chance is 0.5 and perfect is 1 (McClish, 1989); NaN when only one
    class is present.

    Whole-curve AUROC also rewards ordering at low recall, where a filter never operates;
    this measures only how few negatives score above the last positives.
    """
    labels = np.asarray(labels).astype(int)
    if labels.min(initial=1) == labels.max(initial=0):
        return math.nan
    # with the classes swapped and scores negated, the false-positive rate is the miss
    # rate, so sklearn's max_fpr bounds the region to recall >= min_recall
    return float(roc_auc_score(1 - labels, -np.asarray(scores), max_fpr=1 - min_recall))


def threshold_for_recall(
    labels: np.ndarray,
    scores: np.ndarray,
    target_recall: float,
    confidence: float | None = None,
) -> float:
    """The highest threshold that flags at least `target_recall` of the positives.

    With `confidence`, the highest threshold whose exact one-sided lower confidence bound
    on recall (Clopper-Pearson, from these positives) is at least `target_recall`: a
    threshold that still reaches the target on new data of the same kind, not just on
    the few positives it was chosen on.  When even flagging every positive cannot show
    that, the threshold flags every positive.
    """
    if not 0 < target_recall <= 1:
        raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
    positives = np.sort(np.asarray(scores)[np.asarray(labels) == 1])[::-1]
    if positives.size == 0:
        raise ValueError("no positive examples to set a recall threshold on")
    return float(positives[positives_needed(positives.size, target_recall, confidence) - 1])


def positives_needed(n: int, target_recall: float, confidence: float | None = None) -> int:
    """How many of `n` positives a threshold must flag for `threshold_for_recall`'s rule:
    `target_recall` of them, or with `confidence`, enough that recall's exact lower bound
    (1 - the miss rate's upper bound) reaches the target (all `n` when none do)."""
    k = math.ceil(target_recall * n)
    if confidence is None:
        return k
    from highstakes.evaluation.reliability import upper_bound

    return next(
        (j for j in range(k, n + 1) if 1 - upper_bound(n - j, n, confidence) >= target_recall),
        n,
    )


def metrics_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> ThresholdMetrics:
    labels = np.asarray(labels).astype(int)
    flagged = np.asarray(scores) >= threshold
    n_pos = int(labels.sum())
    n_neg = int(labels.size - n_pos)
    recall = float(flagged[labels == 1].mean()) if n_pos else math.nan
    fpr = float(flagged[labels == 0].mean()) if n_neg else math.nan
    return ThresholdMetrics(threshold, auroc(labels, scores), recall, fpr, n_pos, n_neg)


def auroc_rows(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUROC of each row: positives' scores (n, P) against negatives' (n, N) -> (n,).
    AUROC = P(score of a random positive > score of a random negative) + ties / 2,
    computed from ranks so that 1,000 bootstrap resamples cost milliseconds."""
    ranks = rankdata(np.concatenate([pos, neg], axis=1), axis=1)  # ties averaged
    u = ranks[:, : pos.shape[1]].sum(axis=1) - pos.shape[1] * (pos.shape[1] + 1) / 2
    return np.asarray(u / (pos.shape[1] * neg.shape[1]))


def bootstrap_auroc(
    labels: np.ndarray, scores: np.ndarray, seed: int = 0, n: int = 1000, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile-bootstrap interval for AUROC, resampling positives and negatives
    separately (a stratified bootstrap keeps both classes in every resample)."""
    labels, scores = np.asarray(labels).astype(int), np.asarray(scores, dtype=np.float64)
    pos, neg = scores[labels == 1], scores[labels == 0]
    if pos.size == 0 or neg.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = auroc_rows(rng.choice(pos, (n, pos.size)), rng.choice(neg, (n, neg.size)))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def held_out_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """What every held-out figure in highstakes reports, for one classifier on one set:
    AUROC with a bootstrap interval, and recall and false-positive rate at `threshold`
    with exact (Clopper-Pearson) intervals.  `evaluate`, the loop and the benchmarks all
    call this, so their numbers agree."""
    from highstakes.evaluation.reliability import estimate_rate

    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    flagged = scores >= threshold
    n_pos, n_neg = int(labels.sum()), int(labels.size - labels.sum())
    out: dict[str, Any] = {"threshold": float(threshold), "n_positive": n_pos, "n_negative": n_neg}
    out["auroc"] = auroc(labels, scores)
    out["auroc_interval"] = bootstrap_auroc(labels, scores, seed, confidence=confidence)
    for name, mask, n in (
        ("recall", labels == 1, n_pos),
        ("false_positive_rate", labels == 0, n_neg),
    ):
        if n:
            est = estimate_rate(int(flagged[mask].sum()), n, confidence)
            out[name], out[f"{name}_interval"] = est.rate, (est.lower, est.upper)
        else:
            out[name], out[f"{name}_interval"] = math.nan, (math.nan, math.nan)
    return out


# how far below its validation target the recall on an external set may fall before
# highstakes warns: a threshold chosen on validation that loses more on text written
# apart from the training data is not doing its job there
RECALL_WARNING_GAP = 0.05


def external_recall_warning(recall: float, target_recall: float | None) -> str | None:
    """A warning when `recall` on an external set, at a threshold chosen to give
    `target_recall` on validation, falls more than `RECALL_WARNING_GAP` below it."""
    if target_recall is None or not recall < target_recall - RECALL_WARNING_GAP:
        return None
    return (
        f"recall on the external set is {recall:.1%} at the saved threshold, more than "
        f"{RECALL_WARNING_GAP:.0%} below the {target_recall:.0%} it was chosen to give on "
        "validation"
    )
