"""Paired comparisons of two versions of a classifier, for benchmarks/training_methods.py:
differences in held-out attack success (per target) and in AUROC, recall and
false-positive rate (per set), each with a bootstrap interval drawn the same way for both
versions, and a verdict only where the interval leaves out zero."""

from __future__ import annotations

from typing import Any

import numpy as np

from highstakes.evaluation.metrics import auroc_rows

N_BOOTSTRAP = 2000


def _interval(values: np.ndarray, point: float) -> dict[str, Any]:
    low, high = np.percentile(values, [2.5, 97.5])
    return {"difference": point, "interval": (float(low), float(high))}


def paired_set(a: dict[str, Any], b: dict[str, Any], labels: np.ndarray, seed: int) -> dict:
    """Differences a - b in AUROC, recall and false-positive rate on one set, resampling
    positives and negatives (stratified) with the same draws for both versions."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    p = rng.choice(pos, (N_BOOTSTRAP, pos.size))
    q = rng.choice(neg, (N_BOOTSTRAP, neg.size))
    out = {}
    sa, sb = np.asarray(a["scores"]), np.asarray(b["scores"])
    auroc = auroc_rows(sa[p], sa[q]) - auroc_rows(sb[p], sb[q])
    out["auroc"] = _interval(auroc, a["auroc"] - b["auroc"])
    fa, fb = sa >= a["threshold"], sb >= b["threshold"]
    out["recall"] = _interval(fa[p].mean(1) - fb[p].mean(1), a["recall"] - b["recall"])
    out["false_positive_rate"] = _interval(
        fa[q].mean(1) - fb[q].mean(1), a["false_positive_rate"] - b["false_positive_rate"]
    )
    return out


def paired_success(a: dict[str, int], b: dict[str, int], seed: int) -> dict[str, Any]:
    ids = sorted(set(a) & set(b))
    diff = np.array([a[i] - b[i] for i in ids], dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = diff[rng.integers(0, len(ids), (N_BOOTSTRAP, len(ids)))].mean(1)
    return _interval(draws, float(diff.mean()))


# which way is better for each figure: +1 higher, -1 lower
BETTER = {"heldout_success": -1, "auroc": 1, "recall": 1, "false_positive_rate": -1}


def verdict(comparison: dict[str, Any], figure: str) -> str:
    low, high = comparison["interval"]
    if low <= 0 <= high:
        return "no clear difference"
    return "better" if (low > 0) == (BETTER[figure] > 0) else "worse"


def compare(a: dict[str, Any], b: dict[str, Any], labels: dict[str, np.ndarray]) -> dict:
    """Every paired difference a - b, each with its interval and verdict."""
    out: dict[str, Any] = {}
    success = paired_success(a["heldout_attack"]["outcomes"], b["heldout_attack"]["outcomes"], 0)
    out["heldout_success"] = {**success, "verdict": verdict(success, "heldout_success")}
    for name, y in labels.items():
        for figure, value in paired_set(a[name], b[name], y, seed=0).items():
            out[f"{name}_{figure}"] = {**value, "verdict": verdict(value, figure)}
    return out
