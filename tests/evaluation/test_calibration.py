from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from highstakes.evaluation.calibration import (
    Rating,
    ThresholdCalibrator,
    rated_levels,
    read_ratings,
    search_grid,
)
from highstakes.evaluation.quality import CompletionSample, proxy_quality


def validation(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positives score high, negatives low, with overlap."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.25).astype(int)
    scores = np.where(labels == 1, rng.beta(5, 1, n), rng.beta(1, 5, n))
    return labels, scores


def ratings_at(threshold: float, n: int, n_unfiltered: int) -> list[Rating]:
    return [Rating(threshold, "unfiltered")] * n_unfiltered + [Rating(threshold, "filtered")] * (
        n - n_unfiltered
    )


def synthetic_sample(direction: float, n_prompts: int = 150, m: int = 8) -> CompletionSample:
    """Completions whose per-token log-likelihood moves with the classifier score:
    direction > 0 means the completions a strict filter keeps (low scores) are less
    natural; direction < 0 means they are blander (more likely) than the rest."""
    rng = np.random.default_rng(1)
    scores = rng.random((n_prompts, m)) ** 3  # many low scores, as from a real generator
    logprobs = -2.0 + direction * scores + 0.05 * rng.standard_normal((n_prompts, m))
    words = ["walked", "home", "slowly", "and", "then", "sat", "down", "quietly"]
    texts = [[" ".join(rng.choice(words, 5)) + "." for _ in range(m)] for _ in range(n_prompts)]
    return CompletionSample([f"Prompt {i}." for i in range(n_prompts)], texts, scores, logprobs)


def test_rated_levels_are_tested_in_a_fixed_sequence() -> None:
    ratings = (
        ratings_at(0.5, 400, 190)
        + ratings_at(0.1, 400, 200)
        + ratings_at(0.05, 3, 0)  # too few to ever pass: skipped, and the sequence goes on
        + ratings_at(0.01, 400, 260)  # fails: testing stops here
        + ratings_at(0.001, 400, 180)  # would pass, but is never tested
    )
    levels = {lv.threshold: lv for lv in rated_levels(ratings, epsilon=0.05, confidence=0.95)}
    assert levels[0.5].passed and levels[0.1].passed
    assert not levels[0.05].tested and not levels[0.05].passed
    assert levels[0.01].tested and not levels[0.01].passed
    assert not levels[0.001].tested and not levels[0.001].passed
    assert levels[0.1].upper == pytest.approx(0.5423, abs=1e-3)  # exact one-sided bound
    labels, scores = validation()
    cal = ThresholdCalibrator(epsilon=0.05).fit(labels, scores, ratings=ratings)
    assert cal.threshold_ == 0.1 and cal.limited_by_ == "quality"
    assert cal.curve_.quality_source == "ratings"


def test_quality_budget_wins_over_an_unreachable_recall_target() -> None:
    labels, scores = validation()
    ratings = ratings_at(0.9, 400, 195) + ratings_at(0.5, 400, 300)
    cal = ThresholdCalibrator(target_recall=0.99, epsilon=0.05).fit(labels, scores, ratings=ratings)
    assert cal.threshold_ == 0.9 and cal.recall_threshold_ < 0.9
    assert cal.recall_met_ is False


def test_recall_only_matches_the_recall_rule() -> None:
    labels, scores = validation()
    cal = ThresholdCalibrator(target_recall=0.9).fit(labels, scores)
    flagged = scores[labels == 1] >= cal.threshold_
    assert flagged.mean() >= 0.9 and cal.limited_by_ == "recall"
    assert cal.curve_.quality_source == "none"
    assert np.isnan(cal.curve_.preference_for_unfiltered).all()


def test_nothing_to_calibrate_on_is_an_error() -> None:
    labels, scores = validation()
    with pytest.raises(ValueError, match="nothing to calibrate"):
        ThresholdCalibrator().fit(labels, scores, ratings=ratings_at(0.5, 400, 300))


def test_grid_is_log_spaced_down_to_one_in_a_million() -> None:
    grid = search_grid(np.array([0.123, 2.0, np.nan]), n_grid=50)
    assert grid[0] == pytest.approx(1e-6) and grid[-1] == 1.0
    assert 0.123 in grid and 2.0 not in grid
    assert np.sum(grid < 1e-3) >= 20  # half the log grid lies below 0.001


def test_proxy_sees_no_change_without_filtering_and_a_drop_with_it() -> None:
    sample = synthetic_sample(direction=1.0)
    q = proxy_quality(sample, np.array([1e-4, 0.01, 0.1, 1.0]), max_tries=16)
    assert q.preference_for_unfiltered[-1] == pytest.approx(0.5, abs=0.01)
    assert q.preference_for_unfiltered[0] > q.preference_for_unfiltered[1] > 0.55
    assert q.logprob_drop[1] > 0 and q.logprob_drop[-1] == pytest.approx(0, abs=1e-12)
    assert q.fallback_rate[0] > q.fallback_rate[-1]
    assert (q.lower <= q.preference_for_unfiltered + 1e-12).all()


def test_proxy_threshold_stops_where_quality_leaves_the_band() -> None:
    labels, scores = validation()
    for direction in (1.0, -1.0):  # contorted or bland: both are quality changes
        sample = synthetic_sample(direction)
        cal = ThresholdCalibrator(epsilon=0.05).fit(labels, scores, sample=sample)
        curve = cal.curve_
        above = curve.thresholds >= cal.threshold_
        assert (curve.preference_upper[above] <= 0.55).all()
        assert (curve.preference_lower[above] >= 0.45).all()
        assert 1e-6 < cal.threshold_ < 1 and curve.rejection_source == "completion-sample"
        below = curve.thresholds[curve.thresholds < cal.threshold_].max()
        i = int(np.flatnonzero(curve.thresholds == below)[0])
        assert curve.preference_upper[i] > 0.55 or curve.preference_lower[i] < 0.45
    # A stricter filter rejects more of the generator's completions.
    assert np.all(np.diff(curve.rejection_rate) <= 0)


def test_summary_and_curve_are_json_ready() -> None:
    labels, scores = validation()
    cal = ThresholdCalibrator(target_recall=0.8).fit(labels, scores, sample=synthetic_sample(1.0))
    text = json.dumps({"summary": cal.summary(), "curve": cal.curve_.as_dict()}, allow_nan=False)
    assert "likelihood-proxy" in text and "distinct2_ratio" in text


def test_sample_round_trips_through_rows() -> None:
    sample = synthetic_sample(1.0, n_prompts=3, m=2)
    sample.completions[0][1] = ""
    sample.scores[0, 1] = np.nan
    again = CompletionSample.from_rows(json.loads(json.dumps(sample.to_rows())))
    assert again.completions == sample.completions
    np.testing.assert_array_equal(again.valid, sample.valid)


def test_ties_count_half_each_way_rounded_against_the_filter() -> None:
    ratings = ratings_at(0.2, 10, 4) + [Rating(0.2, "same")] * 3
    (level,) = rated_levels(ratings, epsilon=0.05, confidence=0.95)
    assert level.n_ratings == 13 and level.n_ties == 3
    assert level.n_unfiltered_preferred == 4 + 2


def test_read_ratings_reports_bad_rows(tmp_path: Path) -> None:
    good = tmp_path / "ok.jsonl"
    good.write_text(
        '{"threshold": 0.01, "preferred": "filtered", "rater": "a"}\n\n'
        '{"threshold": 0.01, "preferred": "same", "pair_id": 3}\n'
    )
    assert read_ratings(good) == [Rating(0.01, "filtered"), Rating(0.01, "same")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"threshold": 0.01, "preferred": "neither"}\n{"preferred": "filtered"}\n'
        '{"threshold": "low", "preferred": "same"}\n'
    )
    with pytest.raises(ValueError, match=r"line 1.*line 2: missing 'threshold'; line 3: "):
        read_ratings(bad)
