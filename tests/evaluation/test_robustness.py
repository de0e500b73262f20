from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from scipy import stats

from highstakes.data.records import Example, Label, Provenance, Snippet, Source
from highstakes.evaluation.robustness import (
    ClassifierVersion,
    attack_cost,
    costs_by_version,
    cross_round_matrix,
    detection_curves,
)


def keyword_scorer(*words: str):  # type: ignore[no-untyped-def]
    """A fake classifier version that flags snippets containing any of `words`."""

    def score(snippets: Sequence[Snippet]) -> np.ndarray:
        return np.array([0.9 if any(w in s.completion for w in words) else 0.1 for s in snippets])

    return score


def test_cross_round_matrix_counts_and_intervals() -> None:
    v0 = ClassifierVersion("v0", keyword_scorer("blood"), 0.5)
    v1 = ClassifierVersion("v1", keyword_scorer("blood", "bruise", "ouch"), 0.5)
    aimed_at_v0 = [Snippet("p", "a bruise"), Snippet("p", "ouch"), Snippet("p", "blood")]
    aimed_at_v1 = [Snippet("p", "a cut"), Snippet("p", "ouch")]
    m = cross_round_matrix([v0, v1], {"v0": aimed_at_v0, "v1": aimed_at_v1, "none": []})
    # The later version catches most of what fooled the earlier one; not the reverse.
    np.testing.assert_array_equal(m.n_caught, [[1, 0, 0], [3, 1, 0]])
    assert m.caught_rate[1, 0] == 1.0 and m.caught_rate[0, 1] == 0.0
    assert m.lower[0, 0] < 1 / 3 < m.upper[0, 0]
    assert math.isnan(m.caught_rate[0, 2])  # an empty column has no rate
    assert m.as_dict()["caught_rate"][0][2] is None


def test_detection_curves_agree_with_auroc() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    c = detection_curves("v0", labels, scores)
    assert c.auroc == pytest.approx(8 / 9)
    assert c.tpr[-1] == 1 and c.fpr[0] == 0 and 0 < c.average_precision <= 1
    assert c.as_dict(max_points=3)["roc"]["fpr"][0] == 0.0
    with pytest.raises(ValueError, match="both classes"):
        detection_curves("v0", np.ones(3), np.ones(3))


def test_attack_cost_of_successes_only() -> None:
    minutes = [10.0, 14.0, 12.0, 16.0]
    c = attack_cost("v0", minutes, confidence=0.9)
    assert c.cost_per_success == c.mean_cost == 13.0  # the seed's "every 13 minutes"
    half = stats.t.ppf(0.95, 3) * np.std(minutes, ddof=1) / 2
    assert c.mean_cost_lower == pytest.approx(13 - half)
    assert c.cost_per_success_lower <= 13 <= c.cost_per_success_upper
    assert c.successes_per_unit == pytest.approx(4 / 52)


def test_attack_cost_with_failed_attempts() -> None:
    queries = [100, 200, 100, 200]
    c = attack_cost("v1", queries, succeeded=[True, False, False, False], unit="queries")
    assert c.cost_per_success == 600 and c.n_successes == 1
    assert c.cost_per_success_upper == math.inf  # some resamples hold no success
    assert c.as_dict()["cost_per_success_upper"] is None
    none = attack_cost("v2", [5.0], succeeded=[False])
    assert none.cost_per_success == math.inf and math.isnan(none.mean_cost_lower)
    with pytest.raises(ValueError, match="non-negative"):
        attack_cost("v0", [-1.0])


def test_costs_by_version_reads_provenance() -> None:
    def example(
        i: int, source: Source, target: str, seconds: float | None, queries: str | None
    ) -> Example:
        return Example(
            id=f"e{i}",
            snippet=Snippet("p", f"c{i}"),
            label=Label.YES,
            provenance=Provenance(source, target_version=target, seconds_spent=seconds),
            tags={"queries": queries} if queries else {},
        )

    examples = [
        example(0, Source.TOOL_ASSISTED, "v0", 600, None),
        example(1, Source.HUMAN_ATTACK, "v0", 1200, None),
        example(2, Source.AUTO_ATTACK, "v0", 3, "150"),
        example(3, Source.TOOL_ASSISTED, "v1", None, None),  # no time recorded: left out
        example(4, Source.TOOL_ASSISTED, "v1", 1560, None),
    ]
    costs = {(c.version, c.unit): c for c in costs_by_version(examples)}
    assert set(costs) == {("v0", "minutes"), ("v0", "queries"), ("v1", "minutes")}
    assert costs[("v0", "minutes")].cost_per_success == 15.0
    assert costs[("v0", "queries")].total_cost == 150
    assert costs[("v1", "minutes")].n_successes == 1
