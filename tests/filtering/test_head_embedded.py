"""The head with its defaults on the embedded SmolLM2 and real demo snippets: it learns
something, streams the same scores it was trained on, and filters from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from highstakes.cli.main import app
from highstakes.data.demo import load_dataset
from highstakes.data.records import Snippet
from highstakes.data.splits import assign_splits
from highstakes.filtering import streaming
from highstakes.filtering.features import FeatureExtractor, snippet_token_ids
from highstakes.filtering.head import HeadConfig, ProbeHead, subset, train_head
from highstakes.models.generator import CausalLM
from tests.filtering.test_head import ForcedTokens

GENERATOR = "embedded-smollm2"


@pytest.fixture(scope="module")
def smollm2() -> CausalLM:
    return CausalLM.from_pretrained(GENERATOR)


@pytest.fixture(scope="module")
def head_folder(smollm2: CausalLM, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Default head (blocks 12, 18, 24, mean+max) on 240 demo training snippets."""
    root = tmp_path_factory.mktemp("embedded-head")
    splits = assign_splits(load_dataset("demo"))
    extractor = FeatureExtractor(smollm2, GENERATOR, cache_dir=root / "cache")
    config = HeadConfig()
    head, valid = train_head(
        extractor, config, subset(splits["train"], 240, 0), subset(splits["valid"], 120, 0)
    )
    assert (head.layers, head.pooling) == ([12, 18, 24], "mean+max")
    assert head.n_features == 3 * 2 * smollm2.model.config.hidden_size
    # well above chance on held-out demo snippets, from 240 training snippets
    assert valid["auroc"] > 0.8 and valid["recall"] >= 0.95
    return head.save(root / "head")


def test_streaming_on_smollm2_scores_what_the_head_was_trained_on(
    smollm2: CausalLM, head_folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = ProbeHead.load(head_folder, GENERATOR)
    snippets = [
        Snippet("The ladder wobbled under Sam.", "He fell and broke his wrist on the patio."),
        Snippet("The kettle sang in the kitchen.", "Mira poured the tea and sat down."),
    ]
    tok = smollm2.tokenizer
    after = tok(" Then", add_special_tokens=False)["input_ids"][:1]
    monkeypatch.setattr(
        streaming,
        "top_p_sample",
        ForcedTokens([snippet_token_ids(tok, s)[1] + after for s in snippets]),
    )
    sampler = streaming.StreamingSampler(smollm2, head, threshold=2.0)
    samples = sampler.sample([s.prompt for s in snippets])
    assert [s.text for s in samples] == [s.completion for s in snippets]
    extractor = FeatureExtractor(smollm2, GENERATOR, cache=False)
    offline = head.stream_scores(extractor.snippet_states(snippets, head.layers))
    online = np.array([s.head_score for s in samples])
    # bf16 states: a padded batch and a KV-cache step round differently
    np.testing.assert_allclose(online, offline, atol=0.01)
    assert online[0] > 0.5 > online[1]  # the broken wrist, not the tea


def test_generate_filters_with_the_head_on_smollm2(head_folder: Path) -> None:
    args = ["generate", "--prompt", "The kettle sang in the kitchen.", "--generator", GENERATOR]
    result = CliRunner().invoke(
        app, [*args, "--filter", "head", "--head", str(head_folder), "--tries", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    (row,) = payload["completions"]
    assert 1 <= row["n_samples"] <= 2 and row["completion"]
    assert payload["report"]["head"]["n_calls"] >= 1
