"""benchmarks/filter_overhead.py's arithmetic: the equal-false-positive-rate threshold and
the cost summary, on small made-up numbers."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("filter_overhead")


def test_threshold_flags_exactly_the_asked_number_of_negatives(bench: ModuleType) -> None:
    negatives = np.array([0.1, 0.9, 0.4, 0.7, 0.2])
    for k in range(6):
        threshold = bench.threshold_flagging(negatives, k)
        assert int((negatives >= threshold).sum()) == k
    with pytest.raises(ValueError, match="between 0 and 5"):
        bench.threshold_flagging(negatives, 6)


def test_summary_divides_each_filter_by_its_own_generation(bench: ModuleType) -> None:
    def usage(seconds: float, tokens: int, flops: float) -> dict:
        return {"seconds": seconds, "n_generated_tokens": tokens, "flops": flops}

    runs = {
        "plain": [usage(10.0, 100, 1e9), usage(20.0, 100, 1e9)],
        "head": [
            {**usage(8.0, 90, 9e8), "head": usage(0.08, 0, 90.0)},
            {**usage(16.0, 80, 8e8), "head": usage(0.32, 0, 80.0)},
        ],
        "classifier": [usage(1.0, 0, 5e7), usage(1.0, 0, 5e7)],
    }
    summary = bench.summarize(runs, n_prompts=3, n=2)
    assert summary["head_time_fractions"] == [0.01, 0.02]
    assert summary["head_time_fraction"] == pytest.approx(0.015)
    assert summary["classifier_time_fractions"] == [0.1, 0.05]
    assert summary["classifier_flops_fraction"] == pytest.approx(0.05)
    assert summary["head_flops_fraction"] == pytest.approx(1e-7)
    assert summary["head_run_token_ratio"] == pytest.approx(0.85)
