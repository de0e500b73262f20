"""Classification metrics at a threshold, where scores are P(positive) and positives are flagged
when their score is at or above the threshold."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
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


def threshold_for_recall(labels: np.ndarray, scores: np.ndarray, target_recall: float) -> float:
    """The highest threshold that flags at least `target_recall` of the positives."""
    if not 0 < target_recall <= 1:
        raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
    positives = np.sort(np.asarray(scores)[np.asarray(labels) == 1])[::-1]
    if positives.size == 0:
        raise ValueError("no positive examples to set a recall threshold on")
    k = math.ceil(target_recall * positives.size)
    return float(positives[k - 1])


def metrics_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> ThresholdMetrics:
    labels = np.asarray(labels).astype(int)
    flagged = np.asarray(scores) >= threshold
    n_pos = int(labels.sum())
    n_neg = int(labels.size - n_pos)
    recall = float(flagged[labels == 1].mean()) if n_pos else math.nan
    fpr = float(flagged[labels == 0].mean()) if n_neg else math.nan
    return ThresholdMetrics(threshold, auroc(labels, scores), recall, fpr, n_pos, n_neg)
