"""The later rounds' threshold: the recall rule's, lowered to round 0's share of flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from highstakes.data.records import Example, Label, Provenance, Snippet, Source
from highstakes.loop.thresholds import flagged_count, hold_flag_rate, threshold_flagging
from highstakes.models.saved import META_FILE


class ScoresBy:
    """Stands in for a classifier: each snippet's score is written in its completion."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def score(self, snippets: list[Snippet]) -> np.ndarray:
        return np.array([float(s.completion) for s in snippets])


MADE = Provenance(Source.HANDWRITTEN, author="test")


def _valid(scores: list[float], labels: list[int]) -> list[Example]:
    return [
        Example(f"v{i}", Snippet("p", str(s)), Label.YES if y else Label.NO, MADE)
        for i, (s, y) in enumerate(zip(scores, labels, strict=True))
    ]


def _model_dir(tmp_path: Path, threshold: float) -> Path:
    (tmp_path / META_FILE).write_text(json.dumps({"threshold": threshold, "max_length": 64}))
    return tmp_path


# 4 positives and 6 negatives; round 0 flagged 3 positives and 2 negatives: 5 of 10
BASELINE = {"threshold": 0.5, "rule": "r", "valid_recall": 0.75, "valid_false_positive_rate": 1 / 3}
LABELS = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]


def test_flagged_count_and_threshold_flagging() -> None:
    assert flagged_count(BASELINE, np.array(LABELS)) == 5
    scores = np.array([0.9, 0.2, 0.7, 0.7, 0.1])
    assert threshold_flagging(scores, 1) == 0.9
    assert threshold_flagging(scores, 2) == 0.7  # a tie flags three: at least two
    assert threshold_flagging(scores, 5) == 0.1
    with pytest.raises(ValueError, match="cannot flag 6 of 5"):
        threshold_flagging(scores, 6)


def _hold(
    tmp_path: Path, scores: list[float], threshold: float, recall: float, fpr: float
) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """`hold_flag_rate` for a version scoring `scores` whose recall rule chose `threshold`:
    the record, the stand-in classifier and its saved metadata afterwards."""
    record = {"threshold": threshold, "rule": "recall", "valid_recall": recall,
              "valid_false_positive_rate": fpr}  # fmt: skip
    clf: Any = ScoresBy(threshold)
    model = _model_dir(tmp_path, threshold)
    out = hold_flag_rate(record, BASELINE, clf, _valid(scores, LABELS), model)
    return out, clf, json.loads((model / META_FILE).read_text())


def test_a_version_flagging_fewer_than_round_0_gets_the_lower_threshold(tmp_path: Path) -> None:
    # the recall rule's threshold 0.8 flags 3 of 10; five need 0.5
    scores = [0.95, 0.9, 0.8, 0.3, 0.6, 0.5, 0.4, 0.2, 0.1, 0.05]
    out, clf, meta = _hold(tmp_path, scores, 0.8, 0.75, 0.0)
    assert out["threshold"] == 0.5 and clf.threshold == 0.5
    assert out["recall_rule_threshold"] == 0.8 and out["flag_rate_threshold"] == 0.5
    assert out["valid_recall"] == 0.75 and out["valid_false_positive_rate"] == pytest.approx(2 / 6)
    assert out["valid_flagged"] == 5
    assert meta == {"threshold": 0.5, "max_length": 64}  # the rest of the file kept
    assert "round 0 (5 of 10)" in out["rule"]


def test_a_version_flagging_more_keeps_the_recall_rule(tmp_path: Path) -> None:
    # the recall rule's threshold 0.3 flags 8 of 10, more than round 0's five
    scores = [0.95, 0.9, 0.8, 0.3, 0.6, 0.5, 0.4, 0.35, 0.1, 0.05]
    out, clf, meta = _hold(tmp_path, scores, 0.3, 1.0, 4 / 6)
    assert out["threshold"] == 0.3 and clf.threshold == 0.3
    assert out["flag_rate_threshold"] == 0.5
    assert out["valid_recall"] == 1.0 and out["valid_flagged"] == 8
    assert meta["threshold"] == 0.3


def test_hold_flag_rate_is_on_by_default_and_must_be_a_boolean() -> None:
    from highstakes.loop.config import parse_config

    assert parse_config({}).retrain.hold_flag_rate is True
    assert parse_config({"retrain": {"hold_flag_rate": False}}).retrain.hold_flag_rate is False
    with pytest.raises(ValueError, match=r"\[retrain\]: hold_flag_rate must be true or false"):
        parse_config({"retrain": {"hold_flag_rate": "yes"}})


def test_the_trainers_validation_scores_are_used_when_they_fit(tmp_path: Path) -> None:
    class NeverScores(ScoresBy):
        def score(self, snippets: list[Snippet]) -> np.ndarray:
            raise AssertionError("scored again although the trainer's scores were given")

    scores = [0.95, 0.9, 0.8, 0.3, 0.6, 0.5, 0.4, 0.2, 0.1, 0.05]
    record = {"threshold": 0.8, "rule": "recall", "valid_recall": 0.75,
              "valid_false_positive_rate": 0.0}  # fmt: skip
    model = _model_dir(tmp_path, 0.8)
    valid = _valid(scores, LABELS)
    never: Any = NeverScores(0.8)
    out = hold_flag_rate(record, BASELINE, never, valid, model, scores)
    assert out["threshold"] == 0.5 and out["valid_flagged"] == 5
    # scores that do not fit the split (another count) are not trusted: it scores afresh
    scorer: Any = ScoresBy(0.8)
    again = hold_flag_rate(record, BASELINE, scorer, valid, model, scores[:-1])
    assert again["threshold"] == 0.5
