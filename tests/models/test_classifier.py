from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from highstakes.data.records import Example, Snippet
from highstakes.models.classifier import Classifier
from highstakes.models.embedded import ModelNotFoundError, resolve


def test_scores_are_probabilities_in_input_order(
    tiny_model_dir: Path, examples: list[Example]
) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    snippets = [e.snippet for e in examples[:20]]
    batched = clf.score(snippets, batch_size=7)
    one_by_one = np.array([clf.score_one(s.prompt, s.completion) for s in snippets])
    assert batched.shape == (20,)
    assert np.all((batched >= 0) & (batched <= 1))
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_length_bucketing_does_not_change_scores(tiny_model_dir: Path) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    short = Snippet("A. B. C.", "D.")
    long = Snippet("One two three. " * 20, "A much longer completion that goes on and on.")
    together = clf.score([short, long, short])
    assert together[0] == pytest.approx(together[2], abs=1e-6)
    assert together[1] == pytest.approx(clf.score([long])[0], abs=1e-5)


def test_empty_input_scores_nothing(tiny_model_dir: Path) -> None:
    assert Classifier.from_pretrained(tiny_model_dir).score([]).shape == (0,)


def test_save_and_load_keep_scores_threshold_and_metadata(
    tiny_model_dir: Path, tmp_path: Path, examples: list[Example]
) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    clf.threshold = 0.0123
    clf.metadata = {"round": 2, "history": [{"epoch": 1}]}
    clf.save(tmp_path / "saved")
    again = Classifier.from_pretrained(tmp_path / "saved")
    snippets = [e.snippet for e in examples[:8]]
    np.testing.assert_allclose(clf.score(snippets), again.score(snippets), atol=1e-6)
    assert again.threshold == 0.0123
    assert again.metadata == {"round": 2, "history": [{"epoch": 1}]}
    assert (tmp_path / "saved" / "config.json").exists()  # plain Hugging Face format too


def test_flags_use_the_threshold(tiny_model_dir: Path) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    clf.threshold = 0.5
    assert clf.flags(np.array([0.49, 0.5, 0.9])).tolist() == [False, True, True]


def test_aliases_resolve_to_embedded_models() -> None:
    assert Path(resolve("embedded-minilm").path, "config.json").exists()
    assert resolve("some/hub-id").path == "some/hub-id"


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    # not the hub's "Repo id must use alphanumeric chars" for a path that is not there,
    # nor a tokenizer's complaint for a folder that holds no model
    with pytest.raises(
        ModelNotFoundError, match=re.escape(f"no model at {tmp_path / 'nope'}: there is no")
    ):
        Classifier.from_pretrained(tmp_path / "nope")
    with pytest.raises(ModelNotFoundError, match="no model at runs/x/model: there is no"):
        resolve("runs/x/model")
    with pytest.raises(ModelNotFoundError, match=r"has no config\.json"):
        Classifier.from_pretrained(tmp_path)


def test_fast_scores_make_the_decisions_fp32_makes(
    tiny_model_dir: Path, examples: list[Example]
) -> None:
    kind = "bf16"  # forced: autocast runs on any CPU, natively or not
    clf = Classifier.from_pretrained(tiny_model_dir)
    snippets = [e.snippet for e in examples[:40]]
    exact = clf.score(snippets)
    fast = clf.score(snippets, fast=True, kind=kind)
    assert not np.array_equal(fast, exact)  # the fast path really is another computation
    threshold = float(np.median(exact))  # half the snippets on each side, many near it
    scores, rescored = clf.score_decisive(snippets, threshold=threshold, kind=kind)
    assert rescored > 0
    np.testing.assert_array_equal(scores >= threshold, exact >= threshold)
    # far from every score, nothing is rescored and the fast scores are returned as they are
    far, none = clf.score_decisive(snippets, threshold=1e-9, kind=kind)
    assert none == 0
    np.testing.assert_allclose(far, fast, atol=1e-6)


def test_without_a_fast_kind_scores_are_fp32_and_nothing_is_rescored(
    tiny_model_dir: Path, examples: list[Example]
) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    snippets = [e.snippet for e in examples[:12]]
    exact = clf.score(snippets)
    scores, rescored = clf.score_decisive(snippets, threshold=float(np.median(exact)), kind="fp32")
    assert rescored == 0
    np.testing.assert_array_equal(scores, exact)
