from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from highstakes.data.records import Example, Label
from highstakes.evaluation.metrics import (
    auroc,
    high_recall_auroc,
    metrics_at,
    threshold_for_recall,
)


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


def test_high_recall_auroc_sees_only_the_last_positives() -> None:
    labels = np.array([1] * 10 + [0] * 10)
    ordered = np.concatenate([np.linspace(0.5, 0.95, 10), np.linspace(0.0, 0.45, 10)])
    assert high_recall_auroc(labels, ordered) == 1.0
    # one positive below every negative, or one negative above every positive: the same
    # whole-curve AUROC, but only the first costs recall at the top of the range
    lost_positive, loud_negative = ordered.copy(), ordered.copy()
    lost_positive[0], loud_negative[10] = -1.0, 2.0
    assert auroc(labels, lost_positive) == auroc(labels, loud_negative) == pytest.approx(0.9)
    assert high_recall_auroc(labels, lost_positive) < high_recall_auroc(labels, loud_negative)
    assert high_recall_auroc(labels, loud_negative) > 0.9
    assert math.isnan(high_recall_auroc(np.array([0, 0]), np.array([0.1, 0.2])))


def test_bad_target_recall() -> None:
    with pytest.raises(ValueError):
        threshold_for_recall(np.array([1]), np.array([0.5]), 0.0)
    with pytest.raises(ValueError, match="no positive"):
        threshold_for_recall(np.array([0]), np.array([0.5]), 0.5)


def test_held_out_metrics_counts_and_intervals() -> None:
    from highstakes.evaluation.metrics import held_out_metrics

    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.3, 0.2, 0.1, 0.1, 0.05])
    m = held_out_metrics(labels, scores, threshold=0.5)
    assert m["recall"] == 0.75 and m["false_positive_rate"] == pytest.approx(1 / 6)
    assert m["auroc"] == pytest.approx(auroc(labels, scores))
    for key in ("auroc", "recall", "false_positive_rate"):
        low, high = m[f"{key}_interval"]
        assert low <= m[key] <= high
    # the bootstrap is seeded: the same call gives the same interval
    assert held_out_metrics(labels, scores, 0.5)["auroc_interval"] == m["auroc_interval"]


def test_bootstrap_auroc_matches_a_direct_resample() -> None:
    """The rank shortcut gives the same values as resampling and calling auroc()."""
    from highstakes.evaluation.metrics import bootstrap_auroc

    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(30), np.zeros(50)].astype(int)
    scores = np.round(rng.random(80) + 0.4 * labels, 1)  # rounded: ties must count half
    low, high = bootstrap_auroc(labels, scores, seed=5, n=200)
    pos, neg = scores[labels == 1], scores[labels == 0]
    rng = np.random.default_rng(5)
    p, q = rng.choice(pos, (200, pos.size)), rng.choice(neg, (200, neg.size))
    direct = [
        auroc(np.r_[np.ones(pos.size), np.zeros(neg.size)], np.r_[a, b])
        for a, b in zip(p, q, strict=True)
    ]
    assert (low, high) == pytest.approx(tuple(np.percentile(direct, [2.5, 97.5])))


def test_threshold_with_confidence_needs_a_lower_bound_at_the_target() -> None:
    from scipy.stats import beta

    rng = np.random.default_rng(3)
    labels = np.r_[np.ones(108), np.zeros(50)].astype(int)
    scores = rng.random(158)
    positives = np.sort(scores[labels == 1])[::-1]
    point = threshold_for_recall(labels, scores, 0.95)
    bounded = threshold_for_recall(labels, scores, 0.95, confidence=0.9)
    flagged = int((positives >= bounded).sum())
    # the exact lower bound at 90%: the 10% quantile of Beta(k, n - k + 1)
    assert beta.ppf(0.1, flagged, 108 - flagged + 1) >= 0.95
    assert beta.ppf(0.1, flagged - 1, 108 - flagged + 2) < 0.95  # one fewer would not do
    assert bounded < point and flagged > math.ceil(0.95 * 108)
    # too few positives to show 99% at all: every positive is flagged
    few = np.array([1, 1, 1, 0])
    assert threshold_for_recall(few, np.array([0.9, 0.5, 0.2, 0.1]), 0.99, 0.9) == 0.2


def test_evaluate_and_the_loop_report_the_same_held_out_figures(
    tiny_model_dir: Path, examples: list[Example]
) -> None:
    """`highstakes evaluate` and the loop's evaluate stage both go through
    `held_out_metrics`: on the same classifier and set, their shared figures are equal."""
    from highstakes.cli.evaluate import _held_out
    from highstakes.evaluation.robustness import ClassifierVersion
    from highstakes.loop.stages import evaluate_version
    from highstakes.models.classifier import Classifier

    clf = Classifier.from_pretrained(tiny_model_dir, max_length=64)
    held_out = [*examples[:40], replace(examples[40], label=Label.UNSURE)]  # left out by both
    clf.threshold = float(np.median(clf.score([e.snippet for e in held_out])))
    loop = evaluate_version(clf, held_out, seed=0)
    _, rows = _held_out([ClassifierVersion("v0", clf.score, clf.threshold)], held_out, 0.95)
    assert loop["n_positive"] + loop["n_negative"] == 40
    assert {k: rows["v0"][k] for k in loop} == loop
