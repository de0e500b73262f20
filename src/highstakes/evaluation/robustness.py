"""Robustness across rounds: who catches whose adversarial examples, and at what cost.

- The *cross-round matrix* (seed, step 6): every classifier version against the
  adversarial examples aimed at every version, as the share still caught (score at or
  above that version's threshold), with exact Clopper-Pearson intervals.  The seed found
  later versions caught most of the examples aimed at earlier ones, but not the reverse.
- ROC and precision-recall curves on labeled data (scikit-learn).
- *Attack cost* per version: human minutes or automatic-attack queries per attempt (mean
  with a t interval) and per success (total cost over successes, with a bootstrap
  interval), and successes per unit of cost.  The seed's tool-assisted attack went from
  13 to 26 minutes per success after adversarial training.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

from highstakes.data.records import Example, Snippet, Source
from highstakes.evaluation.metrics import auroc
from highstakes.evaluation.reliability import estimate_rate

HUMAN_SOURCES = (Source.HUMAN_ATTACK, Source.TOOL_ASSISTED)
AUTOMATIC_SOURCES = (Source.AUTO_ATTACK, Source.PARAPHRASE)


@dataclass(frozen=True)
class ClassifierVersion:
    name: str
    score: Callable[[Sequence[Snippet]], np.ndarray]  # P(positive) per snippet
    threshold: float
    target_recall: float | None = None  # the validation recall its threshold was chosen for


@dataclass(frozen=True)
class CrossRoundMatrix:
    """Rows: the classifier evaluated.  Columns: the version the examples were aimed at."""

    versions: list[str]
    targets: list[str]
    n_caught: np.ndarray  # (V, T)
    n_examples: np.ndarray  # (T,)
    caught_rate: np.ndarray  # (V, T); NaN for an empty column
    lower: np.ndarray
    upper: np.ndarray
    confidence: float

    def as_dict(self) -> dict[str, object]:
        def rows(a: np.ndarray) -> list[list[float | None]]:
            return [[float(x) if np.isfinite(x) else None for x in row] for row in a]

        return {
            "versions": self.versions,
            "targets": self.targets,
            "n_caught": self.n_caught.tolist(),
            "n_examples": self.n_examples.tolist(),
            "caught_rate": rows(self.caught_rate),
            "lower": rows(self.lower),
            "upper": rows(self.upper),
            "confidence": self.confidence,
        }


def cross_round_matrix(
    versions: Sequence[ClassifierVersion],
    adversarial: dict[str, Sequence[Snippet]],
    confidence: float = 0.95,
) -> CrossRoundMatrix:
    """`adversarial` maps a target version's name to confirmed-injurious snippets aimed at
    it; every snippet should be caught, so the share caught is a recall."""
    targets = list(adversarial)
    shape = (len(versions), len(targets))
    n_caught = np.zeros(shape, dtype=int)
    rate, lower, upper = (np.full(shape, np.nan) for _ in range(3))
    n_examples = np.array([len(adversarial[t]) for t in targets], dtype=int)
    for i, version in enumerate(versions):
        for j, target in enumerate(targets):
            snippets = list(adversarial[target])
            if not snippets:
                continue
            n_caught[i, j] = int(np.sum(version.score(snippets) >= version.threshold))
            est = estimate_rate(int(n_caught[i, j]), len(snippets), confidence)
            rate[i, j], lower[i, j], upper[i, j] = est.rate, est.lower, est.upper
    names = [v.name for v in versions]
    return CrossRoundMatrix(names, targets, n_caught, n_examples, rate, lower, upper, confidence)


@dataclass(frozen=True)
class DetectionCurves:
    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    auroc: float
    average_precision: float
    n_positive: int
    n_negative: int

    def as_dict(self, max_points: int = 400) -> dict[str, object]:
        """Summary numbers and the curves thinned to at most `max_points` points."""

        def thin(a: np.ndarray) -> list[float]:
            idx = np.unique(np.linspace(0, a.size - 1, min(a.size, max_points)).astype(int))
            return [float(x) for x in a[idx]]

        return {
            "name": self.name,
            "auroc": self.auroc,
            "average_precision": self.average_precision,
            "n_positive": self.n_positive,
            "n_negative": self.n_negative,
            "roc": {"fpr": thin(self.fpr), "tpr": thin(self.tpr)},
            "pr": {"precision": thin(self.precision), "recall": thin(self.recall)},
        }


def detection_curves(name: str, labels: np.ndarray, scores: np.ndarray) -> DetectionCurves:
    labels, scores = np.asarray(labels).astype(int), np.asarray(scores, dtype=float)
    n_pos = int(labels.sum())
    if n_pos == 0 or n_pos == labels.size:
        raise ValueError(f"{name}: ROC and precision-recall curves need both classes")
    fpr, tpr, _ = roc_curve(labels, scores)
    precision, recall, _ = precision_recall_curve(labels, scores)
    ap = float(average_precision_score(labels, scores))
    return DetectionCurves(
        name, fpr, tpr, precision, recall, auroc(labels, scores), ap, n_pos, labels.size - n_pos
    )


@dataclass(frozen=True)
class AttackCost:
    """What attacking one version cost.  Intervals are at `confidence`; NaN when the data
    are too few (one attempt, or no success)."""

    version: str
    unit: str  # "minutes" (human attacks) or "queries" (automatic attacks)
    n_attempts: int
    n_successes: int
    total_cost: float
    mean_cost: float  # per attempt, with a t interval
    mean_cost_lower: float
    mean_cost_upper: float
    cost_per_success: float  # total cost / successes: the seed's "13 minutes per example"
    cost_per_success_lower: float  # percentile bootstrap over attempts
    cost_per_success_upper: float
    successes_per_unit: float
    confidence: float
    attack: str = ""  # which attack, where a version was attacked by several
    counts_failures: bool = False  # the failed attempts' costs are in: the figures are exact

    def as_dict(self) -> dict[str, object]:
        return {
            k: (v if not isinstance(v, float) or math.isfinite(v) else None)
            for k, v in asdict(self).items()
        }


def attack_cost(
    version: str,
    costs: Sequence[float],
    succeeded: Sequence[bool] | None = None,
    unit: str = "minutes",
    confidence: float = 0.95,
    n_bootstrap: int = 2000,
    random_state: int = 0,
    attack: str = "",
) -> AttackCost:
    """Cost of attacking `version`.  `succeeded` is None when every cost is that of a
    success (stored adversarial examples, which leave the failed attempts out: a lower
    bound); given, it has one entry per attempt, failed ones included."""
    cost = np.asarray(costs, dtype=float)
    if cost.size == 0 or (cost < 0).any() or not np.isfinite(cost).all():
        raise ValueError(f"{version}: costs must be a non-empty list of non-negative numbers")
    wins = np.ones(cost.size, bool) if succeeded is None else np.asarray(succeeded, bool)
    if wins.shape != cost.shape:
        raise ValueError(f"{version}: succeeded must have one entry per cost")
    n, k, total = cost.size, int(wins.sum()), float(cost.sum())
    mean = float(cost.mean())
    low = high = math.nan
    if n > 1 and cost.std() > 0:
        sem = float(stats.sem(cost))
        low, high = (float(x) for x in stats.t.interval(confidence, n - 1, loc=mean, scale=sem))
    elif n > 1:
        low = high = mean
    rng = np.random.default_rng(random_state)
    idx = rng.integers(0, n, size=(n_bootstrap, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = cost[idx].sum(axis=1) / wins[idx].sum(axis=1)
    ratios = np.where(np.isnan(ratios), np.inf, ratios)  # 0/0: nothing spent, nothing found
    alpha = (1 - confidence) / 2
    # "inverted_cdf" picks observed values: no interpolation toward an infinite ratio.
    lo_ratio, hi_ratio = (
        float(np.quantile(ratios, q, method="inverted_cdf")) for q in (alpha, 1 - alpha)
    )
    return AttackCost(
        version=version,
        unit=unit,
        n_attempts=n,
        n_successes=k,
        total_cost=total,
        mean_cost=mean,
        mean_cost_lower=low,
        mean_cost_upper=high,
        cost_per_success=total / k if k else math.inf,
        cost_per_success_lower=lo_ratio if k else math.nan,
        cost_per_success_upper=hi_ratio if k else math.nan,
        successes_per_unit=k / total if total > 0 else math.nan,
        confidence=confidence,
        attack=attack,
        counts_failures=succeeded is not None,
    )


def example_cost(example: Example) -> tuple[str, float] | None:
    """(unit, cost) of one stored adversarial example: active minutes for human attacks,
    queries for automatic ones; None when it was not recorded."""
    source = example.provenance.source
    if source in HUMAN_SOURCES and example.provenance.seconds_spent is not None:
        return "minutes", example.provenance.seconds_spent / 60
    if source in AUTOMATIC_SOURCES and "queries" in example.tags:
        return "queries", float(example.tags["queries"])
    return None


def costs_by_version(examples: Sequence[Example], confidence: float = 0.95) -> list[AttackCost]:
    """Attack cost per (target version, unit) from stored successful adversarial examples."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in examples:
        cost = example_cost(e)
        if cost is not None and e.provenance.target_version:
            groups[(e.provenance.target_version, cost[0])].append(cost[1])
    return [
        attack_cost(version, values, unit=unit, confidence=confidence)
        for (version, unit), values in sorted(groups.items())
    ]


def costs_from_attempts(
    attempts: Sequence[dict[str, Any]], confirmed: set[str], confidence: float = 0.95
) -> list[AttackCost]:
    """Exact queries per success for each (target version, recipe) of an attack's attempt
    records (`attacks.run.attempt_records`): an attempt succeeded when one of its results
    is among the `confirmed` (labeled injurious) snippet keys; failed searches count."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for a in attempts:
        groups[(a["target_version"], a["recipe"])].append(a)
    return [
        attack_cost(
            version,
            [float(a["queries"]) for a in rows],
            [any(key in confirmed for key in a["found"]) for a in rows],
            "queries",
            confidence,
            attack=recipe,
        )
        for (version, recipe), rows in sorted(groups.items())
    ]
