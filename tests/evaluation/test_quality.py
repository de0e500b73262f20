"""The likelihood rater's inputs and diagnostics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from highstakes.evaluation.quality import CompletionSample, draw_completion_sample, proxy_quality
from highstakes.models.generator import CausalLM
from tests.attacks.conftest import build_tiny_lm
from tests.filtering.conftest import ScriptedGenerator, blood_scores


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> CausalLM:
    folder: Path = build_tiny_lm(tmp_path_factory.mktemp("tiny-llama-quality"))
    return CausalLM.from_pretrained(str(folder), dtype="float32")


def test_draw_scores_and_measures_each_whole_sentence(lm: CausalLM) -> None:
    script = {
        "The dragon waited.": ["There was blood on the snow.", "", "The wind was cold."],
        "The knight rode.": ["He walked home in the rain."],
    }
    sample = draw_completion_sample(ScriptedGenerator(script), lm, blood_scores, list(script), 3)
    assert sample.completions[0][1] == "" and not sample.valid[0, 1]
    assert np.isnan(sample.scores[0, 1]) and np.isnan(sample.logprob_per_token[0, 1])
    np.testing.assert_allclose(sample.scores[0, [0, 2]], [0.9, 0.1])
    measured = sample.logprob_per_token[sample.valid]
    assert np.all(np.isfinite(measured)) and np.all(measured < 0)
    # The same sentence after the same prompt gets the same per-token log-likelihood.
    assert sample.logprob_per_token[1, 0] == pytest.approx(sample.logprob_per_token[1, 1])


def test_diagnostics_see_shorter_blander_completions() -> None:
    short = ["He sat.", "He sat.", "He sat."]

    def varied(i: int) -> list[str]:
        return [f"The old horse {i} ran across the field.", f"A bird {i} sang in the tree."]

    texts = [varied(i) + short + varied(i)[::-1] + short[:1] for i in range(40)]
    m = len(texts[0])
    scores = np.array([[0.9] * 2 + [0.01] * 3 + [0.9] * 2 + [0.01]] * 40)  # keeps "He sat."
    logprobs = np.tile(np.linspace(-3, -1, m), (40, 1))
    sample = CompletionSample([f"P{i}." for i in range(40)], texts, scores, logprobs)
    q = proxy_quality(sample, np.array([0.5, 1.0]), max_tries=8)
    assert q.length_ratio[0] < 0.5 and q.length_ratio[1] == pytest.approx(1)
    assert q.distinct2_ratio[0] < 1
    assert q.fallback_rate[0] == pytest.approx((1 - 4 / m) ** 8)
