from __future__ import annotations

from pathlib import Path

import pytest
import torch

from highstakes.data.records import Example
from highstakes.data.splits import assign_splits
from highstakes.loop.config import parse_config
from highstakes.models.classifier import Classifier
from highstakes.training.checkpoints import STATE_FILE, checkpoint_dir
from highstakes.training.config import TrainConfig
from highstakes.training.epoch import class_weights, classification_loss
from highstakes.training.trainer import TrainResult, labeled, train


def _config(model_dir: Path, **overrides: object) -> TrainConfig:
    base = dict(
        model=str(model_dir),
        epochs=2,
        batch_size=16,
        learning_rate=1e-3,
        max_length=64,
        patience=5,
        seed=3,
    )
    return TrainConfig(**{**base, **overrides})  # type: ignore[arg-type]


def _splits(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    parts = assign_splits(examples, fractions=(0.6, 0.4, 0.0))
    return parts["train"], parts["valid"]


def _weights(clf: Classifier) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in clf.model.parameters()])


def _assert_finished_model_folder(out: Path) -> None:
    """A finished run leaves the model and its history, and no checkpoint anywhere."""
    assert not checkpoint_dir(out).exists()
    assert not list(out.parent.rglob("*.pt")) and not list(out.parent.glob("*.checkpoint"))
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "highstakes.json", "history.json"} <= names
    assert not any(name.endswith((".pt", ".pth", ".bin", ".tmp")) for name in names), names
    assert all(p.is_file() for p in out.iterdir())  # no best/ or other leftovers


def test_training_saves_a_loadable_model_with_metrics(
    tiny_model_dir: Path, examples: list[Example], tmp_path: Path
) -> None:
    train_set, valid_set = _splits(examples)
    result = train(_config(tiny_model_dir), train_set, valid_set, tmp_path / "run")
    _assert_finished_model_folder(tmp_path / "run")
    assert len(result.history) == 2
    assert {"valid_auroc", "valid_recall", "valid_false_positive_rate"} <= set(result.history[0])
    loaded = Classifier.from_pretrained(tmp_path / "run")
    assert loaded.threshold == pytest.approx(result.classifier.threshold)
    assert loaded.metadata["best_epoch"] == result.best_epoch
    assert loaded.metadata["n_train"] == len(labeled(train_set)[0])


def test_training_is_reproducible(
    tiny_model_dir: Path, examples: list[Example], tmp_path: Path
) -> None:
    train_set, valid_set = _splits(examples)
    a = train(_config(tiny_model_dir), train_set, valid_set, tmp_path / "a")
    stale = checkpoint_dir(tmp_path / "b")  # left by an earlier killed run into the same folder
    stale.mkdir()
    (stale / STATE_FILE).write_bytes(b"not a checkpoint")
    (tmp_path / "b" / "best").mkdir(parents=True)  # where older versions kept checkpoints
    (tmp_path / "b" / "checkpoint.pt").write_bytes(b"optimizer state")
    b = train(_config(tiny_model_dir), train_set, valid_set, tmp_path / "b")  # not resumed
    _assert_finished_model_folder(tmp_path / "b")
    assert torch.equal(_weights(a.classifier), _weights(b.classifier))
    assert a.history[-1]["train_loss"] == b.history[-1]["train_loss"]


def _crash_in_epoch_two_and_resume(
    cfg: TrainConfig, train_set: list[Example], valid_set: list[Example], out: Path
) -> TrainResult:
    """Train until the second batch of epoch 2, as if killed there, then resume."""

    def crash(phase: str, done: int, total: int) -> None:
        if phase.startswith("epoch 2") and done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, train_set, valid_set, out, progress=crash)
    # the checkpoint of epoch 1 waits beside the (not yet written) model folder
    assert (checkpoint_dir(out) / STATE_FILE).exists() and (checkpoint_dir(out) / "best").is_dir()
    assert not out.exists()
    result = train(cfg, train_set, valid_set, out, resume=True)
    _assert_finished_model_folder(out)
    return result


def test_resume_after_a_crash_matches_an_uninterrupted_run(
    tiny_model_dir: Path, examples: list[Example], tmp_path: Path
) -> None:
    train_set, valid_set = _splits(examples)
    cfg = _config(tiny_model_dir, epochs=3)
    whole = train(cfg, train_set, valid_set, tmp_path / "whole")
    resumed = _crash_in_epoch_two_and_resume(cfg, train_set, valid_set, tmp_path / "resumed")
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in whole.history]
    assert torch.equal(_weights(whole.classifier), _weights(resumed.classifier))


def test_sift_changes_training(
    tiny_model_dir: Path, examples: list[Example], tmp_path: Path
) -> None:
    train_set, valid_set = _splits(examples)
    plain = train(_config(tiny_model_dir, epochs=1), train_set, valid_set, tmp_path / "p")
    sift = train(_config(tiny_model_dir, epochs=1, sift=True), train_set, valid_set, tmp_path / "s")
    assert not torch.equal(_weights(plain.classifier), _weights(sift.classifier))
    assert torch.isfinite(_weights(sift.classifier)).all()
    assert sift.history[0]["train_loss"] > 0


def test_unsure_examples_are_left_out(examples: list[Example]) -> None:
    from dataclasses import replace

    from highstakes.data.records import Label

    mixed = [replace(examples[0], label=Label.UNSURE), *examples[1:4]]
    kept, labels = labeled(mixed)
    assert kept == examples[1:4] and labels.tolist() == [0, 0, 0]


def test_one_class_training_data_is_refused(
    tiny_model_dir: Path, examples: list[Example], tmp_path: Path
) -> None:
    negatives = [e for e in examples if e.label.value == "no"]
    with pytest.raises(ValueError, match="both 'yes' and 'no'"):
        train(_config(tiny_model_dir), negatives, negatives, tmp_path / "x")


def test_class_weights_balance_rare_positives() -> None:
    import numpy as np

    w = class_weights(np.array([0, 0, 0, 1]))
    assert float(w[1]) == pytest.approx(3 * float(w[0]))


def test_focal_loss_is_cross_entropy_at_gamma_0_and_weighs_hard_examples_more() -> None:
    logits = torch.tensor([[4.0, -4.0], [0.3, -0.2], [-1.0, 2.0], [2.0, 0.5]])
    target = torch.tensor([0, 0, 1, 1])  # easy, hard, easy-ish, wrong
    weights = torch.tensor([0.75, 1.5])
    plain = torch.nn.functional.cross_entropy(logits, target, weight=weights)
    assert torch.equal(classification_loss(logits, target, weights, 0.0), plain)
    # gamma 2 by hand: each term times (1 - p_true)^2, weighted mean by class weight
    p = torch.softmax(logits, -1)[torch.arange(4), target]
    w = weights[target]
    expected = (w * (1 - p) ** 2 * -p.log()).sum() / w.sum()
    focal = classification_loss(logits, target, weights, 2.0)
    assert torch.allclose(focal, expected)
    # the confident correct example contributes almost nothing, the wrong one almost all
    per = (1 - p) ** 2 * -p.log()
    assert per[0] < 1e-6 and per[3] / per.sum() > 0.8
    with pytest.raises(ValueError, match="focal_gamma"):
        TrainConfig(focal_gamma=-1.0)


def test_length_grouped_batches_keep_every_example_and_group_lengths() -> None:
    import numpy as np

    from highstakes.training.epoch import length_grouped

    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 130, 1000)
    np.random.seed(0)
    order = length_grouped(rng.permutation(1000), lengths, batch_size=32)
    assert sorted(order.tolist()) == list(range(1000))
    batches = [order[i : i + 32] for i in range(0, 1000, 32)]
    padded = sum(len(b) * lengths[b].max() for b in batches)
    random_batches = [np.arange(1000)[i : i + 32] for i in range(0, 1000, 32)]
    assert padded < 0.8 * sum(len(b) * lengths[b].max() for b in random_batches)


def test_unknown_schedule_is_refused(
    tiny_model_dir: Path, examples: list[Example], tmp_path: Path
) -> None:
    train_set, valid_set = _splits(examples)
    with pytest.raises(ValueError, match="schedule must be one of"):
        train(_config(tiny_model_dir, schedule="wavy"), train_set, valid_set, tmp_path / "run")


def test_cosine_schedule_and_one_progress_line_per_epoch(
    tiny_model_dir: Path, examples: list[Example], tmp_path: Path
) -> None:
    train_set, valid_set = _splits(examples)
    phases: list[str] = []
    cfg = _config(tiny_model_dir, schedule="cosine")
    train(cfg, train_set, valid_set, tmp_path / "run", progress=lambda p, d, t: phases.append(p))
    lines = [p for p in phases if "valid AUROC" in p]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2: train loss")


def test_weight_average_follows_the_weights_and_swaps_in_and_out() -> None:
    from highstakes.training.averaging import WeightAverage

    model = torch.nn.Linear(3, 2)
    start = model.weight.detach().clone()
    average = WeightAverage(model, decay=0.75)
    with torch.no_grad():
        model.weight.add_(4.0)
    average.update(model)
    expected = start + 0.25 * 4.0  # one step a quarter of the way towards the new weights
    assert torch.allclose(average.state_dict()["shadow"]["weight"], expected)
    with average.applied(model):
        assert torch.allclose(model.weight, expected)
    assert torch.allclose(model.weight, start + 4.0)
    with pytest.raises(ValueError, match="weight_average"):
        WeightAverage(model, decay=1.0)


def test_a_debiased_weight_average_is_of_the_trained_weights_only() -> None:
    from highstakes.training.averaging import WeightAverage

    model = torch.nn.Linear(3, 2)
    start = model.weight.detach().clone()
    average = WeightAverage(model, decay=0.75, debias=True)
    steps = [torch.full_like(start, v) for v in (2.0, -1.0, 5.0)]
    for t, value in enumerate(steps, start=1):
        with torch.no_grad():
            model.weight.copy_(value)
        average.update(model)
        # the decay-weighted mean of the weights after each step so far, nothing of `start`
        shares = torch.tensor([0.75 ** (t - i) for i in range(1, t + 1)])
        expected = sum(s * w for s, w in zip(shares, steps[:t], strict=True)) / shares.sum()
        assert torch.allclose(average.state_dict()["shadow"]["weight"], expected)
    # the count of updates is part of the state, so a resumed average goes on the same way
    copy = WeightAverage(model, decay=0.75, debias=True)
    copy.load_state_dict(average.state_dict())
    assert copy.n_updates == 3 and copy.step_share() == average.step_share()
    # a checkpoint written before `debias` (bare shadow copies) still loads
    copy.load_state_dict({"weight": start, "bias": model.bias.detach()})
    assert torch.equal(copy.shadow["weight"], start) and copy.n_updates == 0


@pytest.mark.parametrize("debias", [False, True])
def test_weight_average_is_saved_and_resumes_exactly(
    tiny_model_dir: Path, examples: list[Example], tmp_path: Path, debias: bool
) -> None:
    train_set, valid_set = _splits(examples)
    cfg = _config(tiny_model_dir, weight_average=0.9, weight_average_debias=debias)
    whole = train(cfg, train_set, valid_set, tmp_path / "whole")
    plain = train(_config(tiny_model_dir), train_set, valid_set, tmp_path / "plain")
    assert not torch.equal(_weights(whole.classifier), _weights(plain.classifier))
    # killed in the second epoch, then resumed: the averaged weights come back with it
    resumed = _crash_in_epoch_two_and_resume(cfg, train_set, valid_set, tmp_path / "split")
    assert torch.equal(_weights(resumed.classifier), _weights(whole.classifier))
    # the kept epoch's validation scores, which calibration reuses, are the saved model's
    kept, _ = labeled(valid_set)
    saved = Classifier.from_pretrained(tmp_path / "whole")
    assert whole.valid_scores == saved.score([e.snippet for e in kept]).tolist()
    assert resumed.valid_scores == whole.valid_scores


def test_the_kept_epoch_is_the_best_by_the_chosen_figure(
    tiny_model_dir: Path, examples: list[Example], tmp_path: Path
) -> None:
    train_set, valid_set = _splits(examples)
    cfg = _config(tiny_model_dir, epochs=3, select="high_recall_auroc")
    result = train(cfg, train_set, valid_set, tmp_path / "run")
    figures = [h["valid_high_recall_auroc"] for h in result.history]
    assert len(figures) == 3
    assert result.best_epoch == 1 + figures.index(max(figures))
    kept = result.history[result.best_epoch - 1]
    assert result.classifier.threshold == pytest.approx(kept["valid_threshold"])


def test_an_unknown_selection_figure_is_refused(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match="select must be one of auroc, high_recall_auroc"):
        _config(tiny_model_dir, select="loss")
    with pytest.raises(ValueError, match=r"\[train\]: select must be"):
        parse_config({"train": {"select": "f1"}})
