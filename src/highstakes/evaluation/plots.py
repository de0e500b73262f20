"""Figures for the reports: ROC and precision-recall, the threshold tradeoff, the
cross-round heat map and attack cost by version.

Figures are built with `matplotlib.figure.Figure` directly, not pyplot: no global state
and no GUI backend, so this is safe in a web server or a thread.  matplotlib is imported
inside each function so that importing this module stays cheap.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from highstakes.evaluation.calibration import TradeoffCurve
    from highstakes.evaluation.robustness import AttackCost, CrossRoundMatrix, DetectionCurves


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def to_png_base64(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_detection(curves: Sequence[DetectionCurves]) -> Figure:
    """ROC (false-positive rate on a log axis: a conservative filter lives at the high end,
    a permissive one at the low end) and precision-recall, one line per version."""
    fig = _figure(10, 4)
    roc, pr = fig.subplots(1, 2)
    for c in curves:
        roc.plot(np.maximum(c.fpr, 1e-4), c.tpr, label=f"{c.name} (AUROC {c.auroc:.3f})")
        pr.plot(c.recall, c.precision, label=f"{c.name} (AP {c.average_precision:.3f})")
    roc.set(xscale="log", xlabel="false-positive rate", ylabel="recall (true-positive rate)")
    roc.set_title("ROC")
    pr.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02))
    pr.set_title("precision-recall")
    for ax in (roc, pr):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def plot_tradeoff(curve: TradeoffCurve, chosen: float | None, epsilon: float) -> Figure:
    """Left: rejection rate and validation recall by threshold.  Right: preference for
    unfiltered completions (ratings or likelihood proxy) with its interval."""
    fig = _figure(10, 4)
    rates, quality = fig.subplots(1, 2, sharex=True)
    t = curve.thresholds
    rates.plot(t, curve.rejection_rate, label=f"rejection rate ({curve.rejection_source})")
    rates.plot(t, curve.recall, label="recall (validation)")
    rates.plot(t, curve.false_positive_rate, label="false-positive rate (validation)", alpha=0.6)
    rates.set(xscale="log", xlabel="threshold", ylabel="rate", ylim=(-0.02, 1.02))
    measured = np.isfinite(curve.preference_for_unfiltered)
    if curve.quality_source == "ratings":
        pref = curve.preference_for_unfiltered[measured]
        err = np.vstack(
            [pref - curve.preference_lower[measured], curve.preference_upper[measured] - pref]
        )
        quality.errorbar(t[measured], pref, yerr=err, fmt="o", capsize=3, label="human ratings")
    elif measured.any():
        quality.plot(t, curve.preference_for_unfiltered, label="likelihood rater")
        quality.fill_between(t, curve.preference_lower, curve.preference_upper, alpha=0.25)
    quality.axhline(0.5, color="grey", lw=0.8)
    quality.axhline(0.5 + epsilon, color="red", ls="--", lw=0.8, label="budget 0.5 + epsilon")
    quality.set(xscale="log", xlabel="threshold", ylabel="preference for unfiltered")
    for ax in (rates, quality):
        if chosen is not None:
            ax.axvline(chosen, color="black", ls=":", label=f"chosen {chosen:.3g}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    rates.set_title("rejections and recall")
    quality.set_title(f"quality ({curve.quality_source})")
    return fig


def plot_cross_round(matrix: CrossRoundMatrix) -> Figure:
    """Heat map of the share of each column's adversarial examples each row still catches."""
    fig = _figure(1.6 + 1.3 * len(matrix.targets), 1.2 + 0.8 * len(matrix.versions))
    ax = fig.subplots()
    image = ax.imshow(np.nan_to_num(matrix.caught_rate, nan=0.0), vmin=0, vmax=1, cmap="viridis")
    for i in range(len(matrix.versions)):
        for j in range(len(matrix.targets)):
            rate = matrix.caught_rate[i, j]
            text = (
                "n/a"
                if not np.isfinite(rate)
                else f"{rate:.2f}\n{matrix.n_caught[i, j]}/{matrix.n_examples[j]}"
            )
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if rate < 0.6 else "black",
            )
    ax.set_xticks(range(len(matrix.targets)), matrix.targets, rotation=30, ha="right")
    ax.set_yticks(range(len(matrix.versions)), matrix.versions)
    ax.set(xlabel="adversarial examples aimed at", ylabel="classifier")
    ax.set_title("share of adversarial examples caught")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def plot_attack_cost(costs: Sequence[AttackCost]) -> Figure:
    """Cost per successful attack for each version, one panel per unit, with intervals."""
    units = sorted({c.unit for c in costs})
    fig = _figure(4.5 * max(len(units), 1), 3.6)
    axes = np.atleast_1d(fig.subplots(1, max(len(units), 1)))
    for ax, unit in zip(axes, units, strict=False):
        rows = [c for c in costs if c.unit == unit]
        value = np.array([c.cost_per_success for c in rows])
        low = np.array([c.cost_per_success_lower for c in rows])
        high = np.array([c.cost_per_success_upper for c in rows])
        finite = np.isfinite(value) & np.isfinite(low) & np.isfinite(high)
        err = np.where(finite, np.vstack([value - low, high - value]), 0)
        ax.bar(range(len(rows)), np.where(np.isfinite(value), value, 0), yerr=err, capsize=4)
        names = [f"{c.version} {c.attack}".strip() for c in rows]
        ax.set_xticks(range(len(rows)), names, rotation=30, ha="right")
        ax.set(ylabel=f"{unit} per success", xlabel="classifier attacked")
        ax.set_title(f"attack cost ({unit})")
        ax.grid(alpha=0.3, axis="y")
    return fig
