"""The loop's [head] section: parsed and checked, off by default, and when on, the round's
head is trained, saved and measured on the test split and the external set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from highstakes.data.io import write_examples
from highstakes.filtering.head import ProbeHead
from highstakes.loop.config import demo_config, parse_config
from highstakes.loop.report import round_entries
from highstakes.loop.rounds import Loop
from tests.attacks.conftest import build_tiny_lm
from tests.conftest import make_examples


def test_head_is_off_in_the_demo() -> None:
    assert demo_config().head.enabled is False


def test_head_section_is_checked() -> None:
    config = parse_config({"head": {"enabled": True, "layers": [3], "max_train": 50}})
    assert config.head.enabled and config.head.layers == [3] and config.head.max_train == 50
    assert config.head.pooling == "mean+max"
    with pytest.raises(ValueError, match=r"\[head\]: unknown key\(s\) layer;"):
        parse_config({"head": {"layer": 3}})
    with pytest.raises(ValueError, match=r"\[head\]: layers must be distinct and at least 1"):
        parse_config({"head": {"layers": [0]}})
    with pytest.raises(ValueError, match=r"\[head\]: enabled must be true or false"):
        parse_config({"head": {"enabled": "yes"}})


@pytest.mark.parametrize("embedded", [False, True], ids=["tiny-llama", "embedded-smollm2"])
def test_a_round_trains_and_measures_the_head(
    tmp_path: Path, embedded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a tiny Llama reading its block 2, and on the embedded SmolLM2 with the defaults."""
    # features computed here, not read from (or left in) the user's cache
    monkeypatch.setattr("highstakes.filtering.features.cache_root", lambda: tmp_path / "cache")
    lm = "embedded-smollm2" if embedded else str(build_tiny_lm(tmp_path / "tiny-lm"))
    spec = {} if embedded else {"layers": [2], "min_tokens": 2}
    data = write_examples(tmp_path / "data.jsonl", make_examples(30))
    external = write_examples(tmp_path / "external.jsonl", make_examples(5))
    config = parse_config(
        {
            "project": str(tmp_path / "project"),
            "data": str(data),
            "external": str(external),
            "train": {"target_recall": 0.9},
            "head": {"enabled": True, "model": lm, **spec},
        }
    )
    loop = Loop(config)
    result = loop.stage(0, "head", lambda: loop.head(0))
    head = ProbeHead.load(result["folder"], lm)
    assert head.layers == ([12, 18, 24] if embedded else [2])
    assert head.threshold_ == result["threshold"]
    assert result["valid"]["recall"] >= 0.9  # the threshold's own rule, on validation
    for where in ("test", "external"):
        figures = result[where]
        assert figures["n_positive"] > 0 and 0 <= figures["recall"] <= 1
        low, high = figures["recall_interval"]
        assert low <= figures["recall"] <= high
    # the stage is remembered: a rerun reads it back instead of training again
    marker = next((tmp_path / "project").rglob("head.done.json"))
    assert json.loads(marker.read_text())["threshold"] == result["threshold"]
    entry = _entry_with_head(result)
    assert entry["head_external_recall"] == result["external"]["recall"]


def _entry_with_head(head: dict) -> dict:
    """A minimal round record, as `run_round` returns it, carrying the head's figures."""
    figures = {"auroc": 0.5, "recall": 1.0, "false_positive_rate": 0.5, "threshold": 0.1}
    attack = {"targets": 0, "success_rate": None, "success_rate_interval": (0, 1)}
    attack["queries_per_success"] = None
    (entry,) = round_entries(
        [
            {
                "round": 0,
                "evaluation": figures,
                "attack": attack,
                "heldout_attack": attack,
                "head": head,
            }
        ]
    )
    return entry
