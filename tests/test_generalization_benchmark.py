"""benchmarks/generalization.py: the operating points read off a set's own ranking."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import load_benchmark


def test_operating_points_on_a_ranking_worked_by_hand() -> None:
    generalization = load_benchmark("generalization")
    # 10 positives at 0.91..1.00 but one at 0.05; 10 negatives at 0.01..0.10 but three loud
    positives = np.r_[np.linspace(0.91, 1.0, 9), 0.05]
    negatives = np.r_[np.linspace(0.01, 0.07, 7), 0.95, 0.96, 0.97]
    labels = np.r_[np.ones(10), np.zeros(10)].astype(int)
    points = generalization.operating_points(labels, np.r_[positives, negatives])
    # recall 0.90 flags the nine high positives (lowest 0.91): the three loud negatives
    assert points["false_positive_rate_at_recall_0.90"] == pytest.approx(0.3)
    # recall 0.95 needs all ten, down to 0.05: every negative from 0.05 up is flagged
    assert points["false_positive_rate_at_recall_0.95"] == pytest.approx(0.6)
    # at most 3 of 10 negatives flagged: threshold above the fourth loudest (0.07)
    assert points["recall_at_false_positive_rate_0.30"] == pytest.approx(0.9)
