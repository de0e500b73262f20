"""The head on a tiny randomly initialized Llama: features, pooling, training, save/load,
and the streaming sampler's scores agreeing with the offline streaming rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from highstakes.data.records import Snippet
from highstakes.evaluation.metrics import metrics_at
from highstakes.filtering import streaming
from highstakes.filtering.features import (
    FeatureExtractor,
    pooled_prefixes,
    prefix_means,
    snippet_token_ids,
)
from highstakes.filtering.head import (
    HeadConfig,
    HeadError,
    ProbeHead,
    evaluate_head,
    train_head,
)
from highstakes.models.generator import CausalLM
from highstakes.training.trainer import labeled
from tests.conftest import make_examples

SNIPPETS = [
    Snippet("The knight rode into the valley.", "She cut her hand on the glass."),
    Snippet("The dragon waited by the river and the wind was cold.", "He walked home."),
]


@pytest.fixture(scope="module")
def extractor(tiny_causal_lm: CausalLM, tiny_lm_folder: Path, tmp_path_factory) -> FeatureExtractor:
    cache = tmp_path_factory.mktemp("head-cache")
    return FeatureExtractor(tiny_causal_lm, str(tiny_lm_folder), batch_size=4, cache_dir=cache)


def _train(extractor: FeatureExtractor, layers: list[int], pooling: str) -> tuple[ProbeHead, dict]:
    examples = make_examples(12)
    config = HeadConfig(layers=layers, pooling=pooling, max_train=0, min_tokens=2, c=1.0)
    return train_head(extractor, config, examples[:32], examples[32:], target_recall=0.9)


@pytest.fixture(scope="module")
def trained(extractor: FeatureExtractor) -> tuple[ProbeHead, dict]:
    """Two blocks, given out of order (the features follow the head's order), mean+max."""
    return _train(extractor, [2, 1], "mean+max")


@pytest.fixture(scope="module")
def trained_mean(extractor: FeatureExtractor) -> tuple[ProbeHead, dict]:
    return _train(extractor, [2], "mean")


def test_features_cover_the_completion_tokens_and_come_back_from_the_cache(
    extractor: FeatureExtractor,
) -> None:
    states = extractor.token_states(SNIPPETS, [1, 2])
    tok = extractor.lm.tokenizer
    for s, st in zip(SNIPPETS, states[2], strict=True):
        assert st.shape == (len(snippet_token_ids(tok, s)[1]), 32)
    assert not np.allclose(states[1][0], states[2][0])  # two blocks, two different states
    again = extractor.token_states(SNIPPETS, [2])[2]  # read from disk (float16)
    for a, b in zip(states[2], again, strict=True):  # a first run is rounded the same way
        np.testing.assert_array_equal(a, b)


def test_a_layer_outside_the_model_is_a_clear_error(extractor: FeatureExtractor) -> None:
    with pytest.raises(ValueError, match="between 1 and 2"):
        extractor.token_states(SNIPPETS, [3])


def test_prefix_means_are_running_means() -> None:
    states = np.arange(12, dtype=np.float32).reshape(4, 3)
    means = prefix_means(states)
    np.testing.assert_allclose(means[2], states[:3].mean(axis=0))
    np.testing.assert_allclose(means[-1], states.mean(axis=0))


def test_pooling_is_per_layer_mean_then_running_max() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    pooled = pooled_prefixes([a, b], "mean+max")
    assert pooled.shape == (5, 12)
    for k in range(5):
        expected = [a[: k + 1].mean(0), a[: k + 1].max(0), b[: k + 1].mean(0), b[: k + 1].max(0)]
        np.testing.assert_allclose(pooled[k], np.concatenate(expected), rtol=1e-6)
    means = np.hstack([prefix_means(a), prefix_means(b)])
    np.testing.assert_allclose(pooled_prefixes([a, b], "mean"), means)
    with pytest.raises(ValueError, match="pooling must be one of mean, mean\\+max"):
        pooled_prefixes([a], "max")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"layers": []}, "non-empty list"),
        ({"layers": 3}, "non-empty list"),
        ({"layers": [0, 2]}, "distinct and at least 1"),
        ({"layers": [2, 2]}, "distinct and at least 1"),
        ({"pooling": "max"}, "pooling must be one of"),
    ],
)
def test_config_mistakes_are_named(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HeadConfig(**values).check()


def test_threshold_meets_the_recall_target_under_the_streaming_rule(
    trained: tuple[ProbeHead, dict], extractor: FeatureExtractor
) -> None:
    head, valid = trained
    assert valid["recall"] >= 0.9 and head.metadata_["n_train"] == 32
    kept, labels = labeled(make_examples(12)[32:])
    states = extractor.snippet_states([e.snippet for e in kept], head.layers)
    assert head.n_features == head.features_for(32) == 2 * 2 * 32
    stream = head.stream_scores(states)
    # the rule is a max over prefixes: never below the whole completion's score
    assert np.all(stream >= head.final_scores(states) - 1e-12)
    assert metrics_at(labels, stream, head.threshold_).recall == valid["recall"]


def test_save_and_load_round_trip(
    trained: tuple[ProbeHead, dict], extractor: FeatureExtractor, tmp_path: Path
) -> None:
    head, _ = trained
    head.save(tmp_path / "head")
    loaded = ProbeHead.load(tmp_path / "head", extractor.lm_name)
    assert (loaded.layers, loaded.pooling) == ([2, 1], "mean+max")
    assert (loaded.min_tokens, loaded.threshold_) == (2, head.threshold_)
    states = extractor.snippet_states(SNIPPETS, [2, 1])
    np.testing.assert_allclose(loaded.stream_scores(states), head.stream_scores(states))
    again = evaluate_head(loaded, extractor, make_examples(12)[32:])
    assert again["recall"] == head.metadata_["valid"]["recall"]


def test_a_head_saved_in_the_first_format_still_loads(
    trained_mean: tuple[ProbeHead, dict], extractor: FeatureExtractor, tmp_path: Path
) -> None:
    """Format 1 had one `layer` and mean pooling."""
    head, _ = trained_mean
    folder = head.save(tmp_path / "old")
    meta = json.loads((folder / "head.json").read_text())
    meta = {**meta, "format": "highstakes-head/1", "layer": 2}
    del meta["layers"], meta["pooling"]
    (folder / "head.json").write_text(json.dumps(meta))
    loaded = ProbeHead.load(folder, extractor.lm_name)
    assert (loaded.layers, loaded.pooling) == ([2], "mean")
    states = extractor.snippet_states(SNIPPETS, [2])
    np.testing.assert_allclose(loaded.stream_scores(states), head.stream_scores(states))


def test_loading_refuses_other_folders_and_other_models(
    trained: tuple[ProbeHead, dict], tmp_path: Path
) -> None:
    with pytest.raises(HeadError, match="not a head folder"):
        ProbeHead.load(tmp_path)
    trained[0].save(tmp_path / "head")
    with pytest.raises(HeadError, match="not 'embedded-smollm2'"):
        ProbeHead.load(tmp_path / "head", "embedded-smollm2")


def test_head_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both injurious and harmless"):
        ProbeHead("m", [1]).fit(np.zeros((4, 3)), np.zeros(4))


class ForcedTokens:
    """Stands in for nucleus sampling: each row emits its scripted tokens in order.  A row
    leaves the batch exactly when its script is used up, so the rows still running are
    those with tokens left."""

    def __init__(self, scripts: list[list[int]]) -> None:
        self.scripts = [list(s) for s in scripts]

    def __call__(self, logits: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
        alive = [s for s in self.scripts if s]
        assert len(alive) == logits.shape[0]
        return torch.tensor([s.pop(0) for s in alive])


@pytest.mark.parametrize("which", ["trained", "trained_mean"])
def test_streaming_scores_match_the_offline_rule(
    which: str,
    extractor: FeatureExtractor,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """Same prompt formatting, positions under left padding and pooling (two blocks in the
    head's order, mean and max; one block, mean): the sampler's best prefix score for a
    forced completion equals `stream_scores` on its features."""
    head, _ = request.getfixturevalue(which)
    tok = extractor.lm.tokenizer
    after = tok(" Then", add_special_tokens=False)["input_ids"][:1]  # starts the next sentence
    scripts = [snippet_token_ids(tok, s)[1] + after for s in SNIPPETS]
    monkeypatch.setattr(streaming, "top_p_sample", ForcedTokens(scripts))
    sampler = streaming.StreamingSampler(extractor.lm, head, threshold=2.0)  # never rejects
    samples = sampler.sample([s.prompt for s in SNIPPETS])
    assert [s.text for s in samples] == [s.completion for s in SNIPPETS]
    offline = head.stream_scores(extractor.snippet_states(SNIPPETS, head.layers))
    online = np.array([s.head_score for s in samples])
    np.testing.assert_allclose(online, offline, atol=2e-3)  # float16 cache, KV-cache order
    assert sampler.usage.n_generated_tokens == sum(len(s) for s in scripts)
    assert sampler.head_usage.n_input_tokens > 0 and sampler.head_usage.seconds > 0


def test_blank_tokens_before_the_first_word_stay_out_of_the_mean_and_max() -> None:
    rows = streaming._Rows(2, 1, 3, torch.device("cpu"))
    blank = {7: True, 8: False}.__getitem__  # token 7 is a line break, 8 a word
    for step, tokens in enumerate([[7, 8], [8, 7], [8, 8]]):
        rows.append(tokens, blank)
        rows.add(torch.full((2, 1, 3), float(3 - step)))  # states 3, 2, 1
    # row 0 began at step 2 (states 2 and 1); row 1 at step 1, a later line break counts
    assert rows.count == [2, 3]
    assert rows.sums[:, 0, 0].tolist() == [3.0, 6.0]
    assert rows.maxes[:, 0, 0].tolist() == [2.0, 3.0]


def test_rejected_samples_stop_early(trained: tuple[ProbeHead, dict], extractor) -> None:
    head, _ = trained
    prompts = ["The knight rode into the valley."] * 6
    plain = streaming.StreamingSampler(extractor.lm, None, max_new_tokens=12)
    free = plain.sample(prompts, seed=3)
    strict = streaming.StreamingSampler(extractor.lm, head, threshold=1e-9, max_new_tokens=12)
    stopped = strict.sample(prompts, seed=3)
    # threshold ~0: every sample is stopped at its first scored prefix (min_tokens = 2)
    assert all(s.rejected and s.text == "" and s.n_tokens <= 2 for s in stopped)
    assert strict.usage.n_generated_tokens < plain.usage.n_generated_tokens
    assert not any(s.rejected for s in free) and all(s.head_score is None for s in free)


def test_top_p_keeps_only_the_nucleus() -> None:
    logits = torch.tensor([[0.0, 5.0, 1.0], [3.0, 0.0, 0.0]])
    torch.manual_seed(0)
    for _ in range(20):
        assert streaming.top_p_sample(logits, 1.0, 0.5).tolist() == [1, 0]
