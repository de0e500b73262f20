"""Threshold rules for the loop's later versions, compared on finished loop projects.

usage: python benchmarks/threshold_rules.py --out FILE PROJECT [PROJECT ...]

For every version of every project, scores the validation split, the test split and the
external set once, then sets the threshold on validation by each rule and reports recall
and false-positive rate on all three:

- `recall`: the trainer's rule, the highest threshold whose one-sided lower confidence
  bound on validation recall reaches the target (the demo: 90%, 95%);
- `hold`: the lower of `recall`'s and `flags`' (`[retrain] hold_flag_rate`);
- `flags`: the one at which the version flags as many validation snippets as round 0's;
- `smooth`: `recall`'s rank read off a Harrell-Davis quantile estimate of the validation
  positives' scores, a weighted mean of every order statistic instead of one (Harrell
  and Davis 1982), to see whether the recall rule's noise is the estimator's;
- `point`: the highest threshold flagging 95% of validation positives, no confidence;
- `round0`: round 0's saved threshold kept for every version.

Only the validation split chooses a threshold; test and external figures are reported,
never used.  A project's versions keep whatever threshold its loop saved; this script
writes nothing into them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
from scipy.stats.mstats import hdquantiles

from highstakes.data.demo import load_dataset
from highstakes.data.splits import assign_splits
from highstakes.evaluation.metrics import metrics_at, positives_needed, threshold_for_recall
from highstakes.loop.config import LoopConfig, parse_config
from highstakes.loop.thresholds import threshold_flagging
from highstakes.models.classifier import Classifier
from highstakes.training.trainer import labeled

Scored = dict[str, tuple[np.ndarray, np.ndarray]]  # set -> (labels, scores)


def smooth_recall_threshold(
    labels: np.ndarray, scores: np.ndarray, target: float, conf: float
) -> float:
    """The recall rule's rank (the fewest flagged positives it accepts), read off a smooth
    quantile estimate of the positives' scores instead of a single one of them."""
    positives = scores[labels == 1]
    n = positives.size
    p = (n - positives_needed(n, target, conf) + 0.5) / n
    return float(hdquantiles(positives, prob=[p])[0])


def rules(
    scored: Scored, base: Scored, base_threshold: float, config: LoopConfig
) -> dict[str, float]:
    """Each rule's threshold for one version, from validation scores alone."""
    cfg = config.train
    labels, scores = scored["valid"]
    recall = threshold_for_recall(labels, scores, cfg.target_recall, cfg.recall_confidence)
    flags = threshold_flagging(scores, int((base["valid"][1] >= base_threshold).sum()))
    return {
        "recall": recall,
        "hold": min(recall, flags),
        "flags": flags,
        "smooth": smooth_recall_threshold(
            labels, scores, cfg.target_recall, cfg.recall_confidence or 0.5
        ),
        "point": threshold_for_recall(labels, scores, cfg.target_recall),
        "round0": base_threshold,
    }


def figures(scored: Scored, threshold: float) -> dict[str, Any]:
    out: dict[str, Any] = {"threshold": round(threshold, 5)}
    for name, (labels, scores) in scored.items():
        m = metrics_at(labels, scores, threshold)
        out[name] = {
            "recall": round(m.recall, 4),
            "false_positive_rate": round(m.false_positive_rate, 4),
            "flagged": int((scores >= threshold).sum()),
        }
    return out


def project_figures(project: Path, sets: dict[str, tuple[list[Any], np.ndarray]]) -> dict[str, Any]:
    config = parse_config(json.loads((project / "config.json").read_text()), str(project))
    rounds = sorted(
        int(p.name.split("-")[1]) for p in project.glob("round-*") if (p / "model").exists()
    )
    out: dict[str, Any] = {"seed": config.seed, "versions": {}}
    base: Scored = {}
    base_threshold = math.nan
    for r in rounds:
        clf = Classifier.from_pretrained(project / f"round-{r}" / "model")
        scored = {
            name: (labels, clf.score([e.snippet for e in kept]))
            for name, (kept, labels) in sets.items()
        }
        if r == 0:
            base, base_threshold = scored, clf.threshold
        chosen = rules(scored, base, base_threshold, config)
        out["versions"][f"v{r}"] = {
            "saved_threshold": clf.threshold,
            "rules": {rule: figures(scored, t) for rule, t in chosen.items()},
        }
        print(project.name, f"v{r}", {k: round(v, 4) for k, v in chosen.items()}, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("projects", nargs="+", type=Path, help="finished loop project folders")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", default="demo")
    parser.add_argument("--external", default="external")
    args = parser.parse_args()
    splits = assign_splits(load_dataset(args.data))
    sets = {
        "valid": labeled(splits["valid"]),
        "test": labeled(splits["test"]),
        "external": labeled(load_dataset(args.external)),
    }
    results = {str(p): project_figures(p, sets) for p in args.projects}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
