from __future__ import annotations

import math

import numpy as np
import pytest

from highstakes.evaluation.metrics import auroc, metrics_at, threshold_for_recall


def test_threshold_for_recall_flags_exactly_enough() -> None:
    labels = np.array([1, 1, 1, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.3, 0.1, 0.5, 0.05])
    assert threshold_for_recall(labels, scores, 0.75) == 0.3
    assert threshold_for_recall(labels, scores, 1.0) == 0.1
    m = metrics_at(labels, scores, 0.3)
    assert m.recall == 0.75 and m.false_positive_rate == 0.5
    assert m.n_positive == 4 and m.n_negative == 2


def test_auroc_known_values() -> None:
    assert auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auroc(np.array([0, 1]), np.array([0.9, 0.1])) == 0.0
    assert math.isnan(auroc(np.array([1, 1]), np.array([0.1, 0.2])))


def test_bad_target_recall() -> None:
    with pytest.raises(ValueError):
        threshold_for_recall(np.array([1]), np.array([0.5]), 0.0)
    with pytest.raises(ValueError, match="no positive"):
        threshold_for_recall(np.array([0]), np.array([0.5]), 0.5)
