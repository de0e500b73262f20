from __future__ import annotations

from pathlib import Path

import pytest

from highstakes.data.records import Example
from highstakes.models.classifier import Classifier
from highstakes.models.light import SCORER_FILE, LightScorer


def test_light_scorer_matches_the_full_model(
    tiny_model_dir: Path, tmp_path: Path, examples: list[Example]
) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir, max_length=48)
    clf.threshold = 0.3
    folder = clf.save(tmp_path / "m")
    assert (folder / SCORER_FILE).exists() and LightScorer.available(folder)
    light = LightScorer(folder)
    assert light.threshold == 0.3
    long_prompt = " ".join(e.prompt for e in examples[:12])  # longer than max_length: truncated
    pairs = [(e.prompt, e.completion) for e in examples[:6]] + [(long_prompt, "He fell.")]
    for prompt, completion in pairs:
        assert light.score_one(prompt, completion) == pytest.approx(
            clf.score_one(prompt, completion), abs=1e-5
        )


def test_saving_without_the_light_copy(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = Classifier.from_pretrained(tiny_model_dir).save(tmp_path / "m", light=False)
    assert not LightScorer.available(folder)
