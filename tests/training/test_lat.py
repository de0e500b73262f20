"""Latent adversarial training: the perturbation, training with it, and its settings."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from highstakes.data.records import Example
from highstakes.data.splits import assign_splits
from highstakes.loop import stages
from highstakes.loop.config import parse_config
from highstakes.models.classifier import Classifier
from highstakes.training.config import TrainConfig
from highstakes.training.lat import (
    LatConfig,
    chosen_blocks,
    lat_loss,
    transformer_blocks,
    worst_perturbation,
)
from highstakes.training.trainer import train


def _batch(
    clf: Classifier, examples: list[Example]
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    chosen = examples[:8]  # two positives, six negatives, of different lengths
    batch = dict(clf.encode([e.snippet for e in chosen]))
    target = torch.tensor([int(e.label.value == "yes") for e in chosen])
    return batch, target


def _hidden(clf: Classifier, batch: dict[str, torch.Tensor], block: int) -> torch.Tensor:
    with torch.no_grad():
        return clf.model(**batch, output_hidden_states=True).hidden_states[block + 1]


@pytest.mark.parametrize("radius", [0.05, 0.5])
def test_the_perturbation_stays_within_the_ball(
    tiny_model_dir: Path, examples: list[Example], radius: float
) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    batch, target = _batch(clf, [*examples[:3], *examples[40:45]])
    batch["attention_mask"][0, -3:] = 0  # padding: no delta there
    perturbation = worst_perturbation(
        clf.model, batch, target, LatConfig(layers=(0,), radius=radius, steps=4, step_size=0.8)
    )
    (delta,), (ball,) = perturbation.deltas, perturbation.radii
    assert delta is not None and ball is not None and not delta.requires_grad
    mask = batch["attention_mask"].bool()
    norms = _hidden(clf, batch, 0).norm(dim=-1)  # (B, T) clean token norms
    expected = radius * torch.stack([n[m].mean() for n, m in zip(norms, mask, strict=True)])
    assert torch.allclose(ball.flatten(), expected, rtol=1e-4)
    token_norms = delta.norm(dim=-1)  # (B, T)
    assert (token_norms <= ball.squeeze(-1) * (1 + 1e-5)).all()
    assert torch.all(token_norms[~mask] == 0)
    # 4 steps of 0.8 radius: the ascent reaches the edge of the ball
    assert torch.allclose(token_norms[mask], ball.squeeze(-1).expand_as(mask)[mask], rtol=1e-3)


def test_the_default_perturbation_raises_the_loss_of_the_embedded_minilm(
    examples: list[Example],
) -> None:
    torch.manual_seed(0)
    clf = Classifier.from_pretrained("embedded-minilm", max_length=64)  # eval mode: no dropout
    batch, target = _batch(clf, examples)
    with torch.no_grad():
        clean = F.cross_entropy(clf.model(**batch).logits, target)
    config = LatConfig()
    assert chosen_blocks(clf.model, config.layers) == [clf.model.bert.encoder.layer[2]]
    perturbation = worst_perturbation(clf.model, batch, target, config)
    with torch.no_grad(), perturbation.hooked():
        attacked = F.cross_entropy(clf.model(**batch).logits, target)
        (delta,), (ball,) = perturbation.deltas, perturbation.radii
        assert delta is not None and ball is not None
        noise = torch.randn_like(delta)  # random directions, each token at the same norm
        perturbation.deltas = [
            noise / noise.norm(dim=-1, keepdim=True) * delta.norm(dim=-1, keepdim=True)
        ]
        randomly = F.cross_entropy(clf.model(**batch).logits, target)
    # the head is untrained (loss ~ln 2 whatever the input): the ascent still raises it
    # by ~2%, a random perturbation of the same size by far less
    assert float(attacked) > float(clean) * 1.01
    assert float(attacked) - float(clean) > 3 * abs(float(randomly) - float(clean))
    with torch.no_grad():  # the hooks are gone: the model is clean again
        assert torch.allclose(F.cross_entropy(clf.model(**batch).logits, target), clean)


def test_lat_loss_trains_the_weights_and_only_them(
    tiny_model_dir: Path, examples: list[Example]
) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    clf.model.train()
    batch, target = _batch(clf, examples)
    loss = lat_loss(clf.model, batch, target, LatConfig(radius=0.2))
    assert torch.isfinite(loss) and float(loss.detach()) > 0
    loss.backward()
    grads = [p.grad for p in clf.model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_blocks_are_found_generically_and_bad_layers_named() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
            return self.linear(x), None  # older transformers: blocks return tuples

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.heads = nn.ModuleList([nn.Linear(4, 2), nn.ReLU()])  # mixed: not blocks
            self.stack = nn.Sequential()
            self.stack.blocks = nn.ModuleList([Block() for _ in range(4)])

    model = Model()
    assert transformer_blocks(model) is model.stack.blocks
    assert chosen_blocks(model, ()) == [model.stack.blocks[1]]
    assert chosen_blocks(model, (-1, 3)) == [model.stack.blocks[3]]
    with pytest.raises(ValueError, match=r"lat_config.layers: \[4\] out of range.*4 blocks"):
        chosen_blocks(model, (4,))
    with pytest.raises(ValueError, match="no stack of transformer blocks"):
        transformer_blocks(nn.Linear(2, 2))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"radius": 0}, "lat_config.radius must be a number > 0"),
        ({"steps": 0}, "lat_config.steps must be an integer >= 1"),
        ({"step_size": -1.0}, "lat_config.step_size"),
        ({"alpha": -1}, "lat_config.alpha"),
        ({"layers": ["middle"]}, "lat_config.layers must be block indices"),
    ],
)
def test_bad_settings_are_refused_by_name(setting: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LatConfig(**setting).check()
    section = ", ".join(f"{k} = {v!r}".replace("'", '"') for k, v in setting.items())
    values = tomllib.loads(f"[train]\nlat = true\nlat_config = {{ {section} }}\n")
    with pytest.raises(ValueError, match=rf"loop.toml \[train.lat_config\]: {message}"):
        parse_config(values, "loop.toml")


def test_loop_config_refuses_unknown_lat_keys_and_non_boolean_flags() -> None:
    with pytest.raises(ValueError, match=r"\[train.lat_config\]: unknown key\(s\) eps"):
        parse_config({"train": {"lat_config": {"eps": 0.1}}})
    with pytest.raises(ValueError, match=r"\[retrain\]: lat must be true or false"):
        parse_config({"retrain": {"lat": "yes"}})


TOML = """
[train]
lat = false
[train.lat_config]
layers = [0]
radius = 0.2
steps = 2
[retrain]
lat = true
"""


def test_the_loop_passes_lat_to_the_rounds_it_is_set_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = parse_config(tomllib.loads(TOML))
    assert config.train.lat_config == LatConfig(layers=(0,), radius=0.2, steps=2)
    used: list[TrainConfig] = []

    class Result:
        best_epoch, history, valid_scores = 1, [dict[str, float]()], None

    def fake_train(cfg: TrainConfig, *args: Any, **kwargs: Any) -> Result:
        used.append(cfg)
        return Result()

    monkeypatch.setattr(stages, "train", fake_train)
    stages.train_version(config, 0, [], [], tmp_path, None, None)  # the baseline: [train]
    stages.train_version(config, 1, [], [], tmp_path, tmp_path, None)  # a later round
    assert [cfg.lat for cfg in used] == [False, True]
    assert used[1].lat_config == config.train.lat_config
    both = replace(config, retrain=replace(config.retrain, lat=None))
    stages.train_version(both, 1, [], [], tmp_path, tmp_path, None)
    assert used[-1].lat is False  # unset in [retrain]: as [train]


def _splits(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    parts = assign_splits(examples, fractions=(0.6, 0.4, 0.0))
    return parts["train"], parts["valid"]


def _weights(clf: Classifier) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in clf.model.parameters()])


def test_lat_changes_training_and_is_reproducible(
    tiny_model_dir: Path, examples: list[Example], tmp_path: Path
) -> None:
    train_set, valid_set = _splits(examples)
    base = TrainConfig(
        model=str(tiny_model_dir), epochs=1, batch_size=16, learning_rate=1e-3, max_length=64
    )
    plain = train(base, train_set, valid_set, tmp_path / "p")
    lat = replace(base, lat=True, lat_config=LatConfig(radius=0.2))
    a = train(lat, train_set, valid_set, tmp_path / "a")
    b = train(lat, train_set, valid_set, tmp_path / "b")
    assert not torch.equal(_weights(plain.classifier), _weights(a.classifier))
    assert torch.equal(_weights(a.classifier), _weights(b.classifier))
    assert a.classifier.metadata["config"]["lat_config"]["radius"] == 0.2


@pytest.mark.slow
def test_training_with_lat_and_sift_on_the_embedded_minilm(
    examples: list[Example], tmp_path: Path
) -> None:
    """Both adversarial terms at once, at their defaults (LAT alone: the tiny model above)."""
    train_set, valid_set = _splits(examples[:32])
    cfg = TrainConfig(
        model="embedded-minilm", epochs=1, batch_size=16, max_length=48, lat=True, sift=True
    )
    result = train(cfg, train_set, valid_set, tmp_path / "run")
    assert torch.isfinite(_weights(result.classifier)).all()
    assert result.history[0]["train_loss"] > 0
    assert (tmp_path / "run" / "highstakes.json").exists()


def test_training_with_lat_through_an_accelerator_in_process(
    tiny_model_dir: Path, examples: list[Example], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trainer's Accelerate path in one CPU process (the two-process run is in
    test_distributed.py): hooks on the plain model, the training forward through the
    prepared one."""
    from accelerate import Accelerator

    from highstakes.training import trainer

    monkeypatch.setattr(trainer, "_accelerator", lambda cfg: Accelerator(cpu=True))
    train_set, valid_set = _splits(examples)
    cfg = TrainConfig(
        model=str(tiny_model_dir), epochs=1, batch_size=16, max_length=64, lat=True, device="cpu"
    )
    result = train(cfg, train_set, valid_set, tmp_path / "run")
    assert torch.isfinite(_weights(result.classifier)).all()
    assert (tmp_path / "run" / "history.json").exists()


def test_the_train_command_takes_lat_and_its_settings(
    tiny_model_dir: Path, tmp_path: Path, examples: list[Example]
) -> None:
    from typer.testing import CliRunner

    from highstakes.cli.main import app
    from highstakes.data.io import write_examples

    data = write_examples(tmp_path / "d.jsonl", examples)
    args = ["train", "--data", str(data), "--model", str(tiny_model_dir), "--epochs", "1"]
    args += ["--max-length", "64", "--lat", "--lat-layers", "0,-1", "--lat-radius", "0.2"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "m"), "--lat-steps", "2"])
    assert result.exit_code == 0, result.output
    saved = Classifier.from_pretrained(tmp_path / "m").metadata["config"]
    assert saved["lat"] is True
    assert saved["lat_config"] == {**saved["lat_config"], "layers": [0, -1], "radius": 0.2}
    assert saved["lat_config"]["steps"] == 2
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "x"), "--lat-layers", "mid"])
    assert bad.exit_code == 2 and "--lat-layers takes block indices" in bad.output
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "x"), "--lat-layers", "7"])
    assert bad.exit_code == 2 and "lat_config.layers: [7] out of range" in bad.output
