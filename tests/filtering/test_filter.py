from __future__ import annotations

import math

import pytest

from highstakes.filtering.filter import CallableScorer, FilterReport, RejectionFilter
from tests.filtering.conftest import ScriptedGenerator, blood_scores

SAFE = "He sat down by the fire."
HURT = "There was blood on the floor."


def make_filter(script: dict[str, list[str]], **kwargs: object) -> RejectionFilter:
    scorer = CallableScorer(blood_scores, n_parameters=100, count_tokens=lambda s: 20)
    return RejectionFilter(ScriptedGenerator(script), scorer, threshold=0.5, **kwargs)  # type: ignore[arg-type]


def test_returns_first_accepted_sample_in_order() -> None:
    filt = make_filter({"a": [HURT, HURT, "First safe one.", SAFE]}, batch_size=4, max_tries=8)
    result = filt.complete(["a"], seed=3)
    (c,) = result.completions
    assert c.accepted and c.completion == "First safe one." and c.score == pytest.approx(0.1)
    assert (c.n_samples, c.n_flagged, c.n_unusable) == (4, 2, 0)
    assert result.report.rejection_rate == 0.5  # the whole first batch is scored


def test_falls_back_after_max_tries_and_counts_every_sample() -> None:
    filt = make_filter({"a": [HURT], "b": [SAFE]}, batch_size=3, max_tries=7, fallback="Quiet.")
    result = filt.complete(["a", "b"], seed=0)
    a, b = result.completions
    assert not a.accepted and a.completion == "Quiet." and a.score is None
    assert a.n_samples == 7  # batches of 3, 3, then the remaining 1
    assert b.accepted and b.n_samples == 3
    calls = filt.generator.calls  # type: ignore[attr-defined]
    assert [(len(p), n) for p, n, _ in calls] == [(2, 3), (1, 3), (1, 1)]
    assert [seed for _, _, seed in calls] == [0, 3, 6]  # a new seed per round
    report = result.report
    assert report.fallback_rate == 0.5 and report.samples_per_accepted == 10
    assert report.pooled_rejection_rate == 7 / 10


def test_unusable_samples_cost_tries_but_are_not_scored() -> None:
    filt = make_filter({"a": ["", "", SAFE]}, batch_size=2, max_tries=4)
    result = filt.complete(["a"])
    (c,) = result.completions
    # rounds: ["", ""] then [SAFE, ""] (the script cycles)
    assert c.accepted and c.n_samples == 4 and c.n_unusable == 3
    assert filt.scorer.usage.n_calls == 1  # the all-unusable first round never calls it
    assert result.report.n_scored == 1


def test_compute_accounting_uses_two_flops_per_parameter_per_token() -> None:
    filt = make_filter({"a": [HURT, SAFE]}, batch_size=2, max_tries=2)
    report = filt.complete(["a"]).report
    # generator: 2 samples x (10 + 5) tokens x 1000 params x 2; classifier: 2 x 20 x 100 x 2
    assert report.generator_flops == 2 * 1000 * 30
    assert report.classifier_flops == 2 * 100 * 40
    assert report.classifier_flops_fraction == pytest.approx(8000 / 60000)
    assert report.classifier_time_fraction < 1  # the fake generator "took" 1 s


def test_reports_aggregate_over_calls() -> None:
    filt = make_filter({"a": [HURT, SAFE], "b": [SAFE]}, batch_size=1, max_tries=4)
    first = filt.complete(["a"]).report
    second = filt.complete(["b"]).report
    total = filt.report_
    assert total.n_prompts == 2 and total.n_samples == first.n_samples + second.n_samples
    assert total.generator_flops == first.generator_flops + second.generator_flops  # type: ignore[operator]
    assert total.as_dict()["samples_per_accepted"] == 1.5


def test_unknown_model_size_gives_unknown_flops() -> None:
    scorer = CallableScorer(blood_scores)  # a plain function: size unknown
    filt = RejectionFilter(ScriptedGenerator({"a": [SAFE]}), scorer, threshold=0.5)
    report = filt.complete(["a"]).report
    assert report.classifier_flops is None and report.classifier_flops_fraction is None
    assert math.isnan(FilterReport().rejection_rate)


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="threshold"):
        make_filter({"a": [SAFE]}, max_tries=1).__class__(
            ScriptedGenerator({}), CallableScorer(blood_scores), threshold=0.0
        )
    with pytest.raises(ValueError, match="max_tries"):
        make_filter({"a": [SAFE]}, max_tries=0)


def test_the_streaming_filter_refuses_the_same_bad_settings() -> None:
    from typing import Any

    from highstakes.filtering.streaming_filter import StreamingFilter

    sampler: Any = object()  # never reached: the settings are checked first
    with pytest.raises(ValueError, match="max_tries and batch_size must be at least 1"):
        StreamingFilter(sampler, batch_size=0)
    with pytest.raises(ValueError, match="a scorer needs its threshold"):
        StreamingFilter(sampler, scorer=CallableScorer(blood_scores))
