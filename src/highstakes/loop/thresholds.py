"""The threshold each version of the loop carries.

Round 0's threshold is the trainer's, from the recall rule on the validation split
(`TrainConfig.target_recall`, at `recall_confidence`).  That rule rests on the lowest few
validation positives (the fourth-lowest of 144 on the demo), so a retrained version whose
weakest positives happen to rise gets a higher threshold and flags fewer snippets of every
kind: on one demo seed the last version's threshold climbed from 0.022 to 0.120 and its
validation false-positive rate fell from 25% to 19%, while its recall on the test split
fell from 94% to 90%.  Rounds compared at different costs say little about robustness.

So with `[retrain] hold_flag_rate`, a later version's threshold is the lower of the recall
rule's and the one at which it flags as many validation snippets as round 0's version did.
Every version still meets the recall rule, and none flags a smaller share of the
validation split than the baseline: the cost of filtering is held at least at round 0's.
The seed project, comparing rounds, held its filter's quality cost fixed rather than its
threshold (Ziegler et al. 2022, "Adversarial training for high-stakes reliability"); the
share of validation snippets flagged stands in for that cost here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from highstakes.data.records import Example
from highstakes.models.classifier import Classifier
from highstakes.models.saved import write_threshold
from highstakes.training.config import TrainConfig
from highstakes.training.trainer import labeled, threshold_rule


def recall_rule(trained: dict[str, Any], cfg: TrainConfig) -> dict[str, Any]:
    """The trainer's threshold: chosen on the validation split at the kept epoch, the
    most conservative one that meets the recall rule."""
    best = trained["history"][trained["best_epoch"] - 1]
    return {
        "threshold": best["valid_threshold"],
        "rule": threshold_rule(cfg),
        "valid_recall": best["valid_recall"],
        "valid_false_positive_rate": best["valid_false_positive_rate"],
    }


def flagged_count(record: dict[str, Any], labels: np.ndarray) -> int:
    """How many validation snippets a calibration record's threshold flags, from its
    recall and false-positive rate."""
    positives = int(labels.sum())
    negatives = int(labels.size - positives)
    return round(record["valid_recall"] * positives) + round(
        record["valid_false_positive_rate"] * negatives
    )


def threshold_flagging(scores: np.ndarray, count: int) -> float:
    """The highest threshold (flag when score >= threshold) flagging at least `count`."""
    if not 1 <= count <= scores.size:
        raise ValueError(f"cannot flag {count} of {scores.size} snippets")
    return float(np.sort(scores)[::-1][count - 1])


def hold_flag_rate(
    record: dict[str, Any],
    baseline: dict[str, Any],
    clf: Classifier,
    valid: Sequence[Example],
    model_dir: Path,
    kept_scores: Sequence[float] | None = None,
) -> dict[str, Any]:
    """`record` (the recall rule's threshold for `clf`), lowered where needed so that `clf`
    flags at least as many validation snippets as round 0's `baseline` record did.  A
    lowered threshold is saved into `model_dir` and set on `clf`.  `kept_scores`: `clf`'s
    scores of the labeled validation snippets as the trainer kept them (scored here
    without them)."""
    kept, labels = labeled(valid)
    if kept_scores is not None and len(kept_scores) == len(kept):
        scores = np.asarray(kept_scores, dtype=np.float64)
    else:
        scores = clf.score([e.snippet for e in kept])
    count = flagged_count(baseline, labels)
    floor = threshold_flagging(scores, count)
    out = {
        **record,
        "rule": f"the lower of two: {record['rule']}; flags as many validation snippets as "
        f"round 0 ({count} of {labels.size})",
        "recall_rule_threshold": record["threshold"],
        "flag_rate_threshold": floor,
    }
    if floor < record["threshold"]:
        flagged = scores >= floor
        out["threshold"] = floor
        out["valid_recall"] = float(flagged[labels == 1].mean())
        out["valid_false_positive_rate"] = float(flagged[labels == 0].mean())
        write_threshold(model_dir, floor)
        clf.threshold = floor
    out["valid_flagged"] = flagged_count(out, labels)
    return out
