"""Fine-tune a `Classifier` on labeled examples.

One screen per step: `_start` (the seeded model, optimizer, schedule, weight average and
resume), then per epoch `_epoch`: one pass (`epoch.train_epoch`: batches, weighted
cross-entropy (+ SiFT or LAT), clip, step, schedule), validation, the best model kept by a
validation figure (AUROC, or AUROC at high recall only) and a checkpoint, so a killed run
resumes where it stopped; then `_finish`.  Training stops early when that figure has not
improved for `patience` epochs.
Every source of randomness is seeded per epoch, so a resumed run follows the same path
as an uninterrupted one, on the same kind of CPU with the same number of torch threads
(another thread count or CPU sums floats in another order, and the run then drifts apart
like another seed).

Checkpoints live beside the model folder, never in it: training into `OUT` keeps
`OUT.checkpoint/` (`state.pt`: model, optimizer, scheduler and loop state; `best/`: the
best epoch so far) while it runs, resumes from there with `resume=True`, and deletes it
once `OUT` is saved.  A saved model folder therefore holds the model and no optimizer
state; `OUT` itself is only written when training has finished.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import get_scheduler

from highstakes.data.records import Example, Label
from highstakes.evaluation.metrics import high_recall_auroc, metrics_at, threshold_for_recall
from highstakes.models.classifier import Classifier
from highstakes.training.averaging import WeightAverage
from highstakes.training.checkpoints import (
    OLD_CHECKPOINTS,
    STATE_FILE,
    checkpoint_dir,
    save_checkpoint,
)
from highstakes.training.config import TrainConfig
from highstakes.training.epoch import (
    ProgressFn,
    class_weights,
    seed_everything,
    train_epoch,
)

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    classifier: Classifier
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    # the kept model's scores of the labeled validation examples, in their order (None from
    # a checkpoint written before they were kept)
    valid_scores: list[float] | None = None


def labeled(examples: Sequence[Example]) -> tuple[list[Example], np.ndarray]:
    """Examples with a yes/no label (unsure ones are kept out) and their 0/1 labels."""
    kept = [e for e in examples if e.label is not Label.UNSURE]
    return kept, np.array([int(e.label is Label.YES) for e in kept], dtype=np.int64)


def evaluate(
    clf: Classifier,
    examples: Sequence[Example],
    threshold: float | None = None,
    target_recall: float = 0.95,
    recall_confidence: float | None = None,
) -> dict[str, float]:
    """AUROC, recall and false-positive rate; the threshold is chosen for `target_recall`
    (at `recall_confidence`, see `threshold_for_recall`) on these examples unless one is
    given."""
    return _scored_metrics(clf, examples, threshold, target_recall, recall_confidence)[0]


def _scored_metrics(
    clf: Classifier,
    examples: Sequence[Example],
    threshold: float | None,
    target_recall: float,
    recall_confidence: float | None,
) -> tuple[dict[str, float], np.ndarray]:
    """`evaluate`'s figures and the scores of the labeled examples they come from."""
    kept, labels = labeled(examples)
    scores = clf.score([e.snippet for e in kept])
    if threshold is None:
        threshold = threshold_for_recall(labels, scores, target_recall, recall_confidence)
    metrics = metrics_at(labels, scores, threshold).as_dict()
    metrics["high_recall_auroc"] = high_recall_auroc(labels, scores)
    return {k: float(v) for k, v in metrics.items()}, scores


def threshold_rule(cfg: TrainConfig) -> str:
    """How the saved threshold was chosen, in words for reports."""
    if cfg.recall_confidence is None:
        return f"flags {cfg.target_recall:.0%} of validation positives"
    return (
        f"the {cfg.recall_confidence:.0%} lower confidence bound on validation recall is at "
        f"least {cfg.target_recall:.0%}"
    )


def _schedule_name(schedule: str) -> str:
    names = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}
    if schedule not in names:
        raise ValueError(f"schedule must be one of {', '.join(names)}, got {schedule!r}")
    return names[schedule]


def _epoch_line(record: dict[str, float], max_epochs: int) -> str:
    return (
        f"epoch {record['epoch']}/{max_epochs}: train loss {record['train_loss']:.3f}, "
        f"valid AUROC {record['valid_auroc']:.3f}, recall {record['valid_recall']:.3f}, "
        f"FPR {record['valid_false_positive_rate']:.3f}"
    )


def _best_so_far(state: dict[str, Any], select: str) -> float:
    """The kept epoch's validation figure, read from the history (-inf before any)."""
    if state["best_epoch"] < 0:
        return -math.inf
    return float(state["history"][state["best_epoch"]].get(f"valid_{select}", -math.inf))


def _accelerator(cfg: TrainConfig) -> Any | None:
    """Hugging Face Accelerate when launched on several processes (`accelerate launch
    --num_processes N`): data parallel, gradients averaged; None for a plain run."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    if cfg.sift:
        raise ValueError("sift: not supported with several processes yet; run on one")
    from accelerate import Accelerator

    # on CPUs Accelerate only joins the process group (gloo) when told it runs on the CPU
    on_cpu = cfg.device == "cpu" or not torch.cuda.is_available()
    return Accelerator(cpu=on_cpu)


@dataclass
class _Run:
    """One training run's moving parts, carried from epoch to epoch."""

    clf: Classifier
    device: str | None  # where the kept model is loaded back at the end
    optimizer: Any
    scheduler: Any
    average: WeightAverage | None
    accelerator: Any | None
    state: dict[str, Any]  # epoch, best_epoch, history: what a checkpoint keeps of the loop

    @property
    def main(self) -> bool:
        """Whether this process writes (the only one, or the main one of several)."""
        return self.accelerator is None or self.accelerator.is_main_process


def train(
    cfg: TrainConfig,
    train_examples: Sequence[Example],
    valid_examples: Sequence[Example],
    out_dir: str | Path,
    resume: bool = False,
    progress: ProgressFn | None = None,
) -> TrainResult:
    """Train, keep the best epoch by the validation figure `cfg.select`, save it to
    `out_dir` and return it.

    Every epoch is checkpointed to `checkpoint_dir(out_dir)`; with `resume`, training
    continues after the last checkpointed epoch.  The checkpoint is deleted once the
    model is saved."""
    out_dir = Path(out_dir)
    ckpt_dir = checkpoint_dir(out_dir)
    train_data, valid_data = labeled(train_examples), labeled(valid_examples)
    if len(set(train_data[1].tolist())) < 2 or len(set(valid_data[1].tolist())) < 2:
        raise ValueError("training and validation data each need both 'yes' and 'no' examples")
    cfg.lat_config.check()
    run = _start(cfg, len(train_data[0]), ckpt_dir, resume)
    weights = class_weights(train_data[1]) if cfg.class_weighting else torch.ones(2)
    encoded = run.clf.encode([e.snippet for e in train_data[0]], padding=False)
    lengths = np.array([len(ids) for ids in encoded["input_ids"]])  # tokens per snippet
    for epoch in range(run.state["epoch"] + 1, cfg.epochs):
        if epoch - run.state["best_epoch"] > cfg.patience and run.state["best_epoch"] >= 0:
            break
        _epoch(run, cfg, epoch, (*train_data, lengths), weights, valid_examples, ckpt_dir,
               progress)  # fmt: skip
    return _finish(run, cfg, out_dir, ckpt_dir, len(train_data[0]), len(valid_data[0]))


def _start(cfg: TrainConfig, n_train: int, ckpt_dir: Path, resume: bool) -> _Run:
    """The seeded model, its optimizer, schedule and weight average; with `resume`, the
    state of the last checkpointed epoch (without it, a stale checkpoint is removed)."""
    seed_everything(cfg.seed)
    accelerator = _accelerator(cfg)
    device = str(accelerator.device) if accelerator is not None else cfg.device
    clf = Classifier.from_pretrained(cfg.model, device=device, max_length=cfg.max_length)
    # fused: one kernel for every parameter's update, 3-4x faster than the loop on a CPU
    fused = clf.device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(
        clf.model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay, fused=fused
    )
    world = accelerator.num_processes if accelerator is not None else 1
    n_steps = cfg.epochs * math.ceil(n_train // world / cfg.batch_size)
    scheduler = get_scheduler(
        _schedule_name(cfg.schedule), optimizer, int(cfg.warmup_fraction * n_steps), n_steps
    )
    average = (
        WeightAverage(clf.model, cfg.weight_average, cfg.weight_average_debias)
        if cfg.weight_average
        else None
    )
    state: dict[str, Any] = {"epoch": -1, "best_epoch": -1, "history": []}
    run = _Run(clf, device, optimizer, scheduler, average, accelerator, state)
    ckpt = ckpt_dir / STATE_FILE
    if not resume and run.main:  # a stale checkpoint of an earlier run must not be resumed
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    if resume and ckpt.exists():
        saved = torch.load(ckpt, map_location=clf.device, weights_only=False)
        clf.model.load_state_dict(saved.pop("model"))
        optimizer.load_state_dict(saved.pop("optimizer"))
        scheduler.load_state_dict(saved.pop("scheduler"))
        if average is not None:
            average.load_state_dict(saved.pop("average"))
        saved.pop("average", None)
        state.update(saved)
        log.info("resuming after epoch %d", state["epoch"] + 1)
    if accelerator is not None:
        accelerator.prepared_model, run.optimizer = accelerator.prepare(clf.model, optimizer)
    return run


def _epoch(
    run: _Run,
    cfg: TrainConfig,
    epoch: int,
    data: tuple[list[Example], np.ndarray, np.ndarray],
    weights: torch.Tensor,
    valid_examples: Sequence[Example],
    ckpt_dir: Path,
    progress: ProgressFn | None,
) -> None:
    """Train one epoch; evaluate the (averaged) weights on validation and keep them in
    `best/` when they are the best so far; checkpoint."""
    clf, state, average = run.clf, run.state, run.average
    t0 = time.perf_counter()
    loss = train_epoch(
        clf, cfg, data, run.optimizer, run.scheduler, weights, epoch,
        progress if run.main else None, run.accelerator, average,
    )  # fmt: skip
    # every process evaluates (cheap, and keeps them in step); only the main one writes
    with average.applied(clf.model) if average else nullcontext():
        metrics, scores = _scored_metrics(
            clf, valid_examples, None, cfg.target_recall, cfg.recall_confidence
        )
        better = metrics[cfg.select] > _best_so_far(state, cfg.select)
        if better and run.main:
            clf.threshold = metrics["threshold"]
            clf.save(ckpt_dir / "best")
    record = {"epoch": epoch + 1, "train_loss": loss, "seconds": time.perf_counter() - t0}
    state["history"].append({**record, **{f"valid_{k}": v for k, v in metrics.items()}})
    log.info("epoch %d: %s", epoch + 1, state["history"][-1])
    if progress and run.main:  # one line per epoch: the learning curve as it is drawn
        progress(_epoch_line(state["history"][-1], cfg.epochs), 1, 1)
    if better:
        state["best_epoch"] = epoch
        state["best_valid_scores"] = scores.tolist()
        clf.threshold = metrics["threshold"]
    state["epoch"] = epoch
    if run.main:
        extra = {"average": average.state_dict()} if average else {}
        save_checkpoint(ckpt_dir / STATE_FILE, clf, run.optimizer, run.scheduler,
                        {**state, **extra})  # fmt: skip
    if run.accelerator is not None:
        run.accelerator.wait_for_everyone()


def _finish(
    run: _Run, cfg: TrainConfig, out_dir: Path, ckpt_dir: Path, n_train: int, n_valid: int
) -> TrainResult:
    """The kept epoch's model, with its metadata, saved to `out_dir`; the checkpoint gone."""
    state = run.state
    stopped_early = state["epoch"] + 1 < cfg.epochs
    best = Classifier.from_pretrained(ckpt_dir / "best", device=run.device)
    best.metadata = {
        "base_model": cfg.model,
        "config": {k: v for k, v in asdict(cfg).items() if k != "device"},
        "best_epoch": state["best_epoch"] + 1,
        "history": state["history"],
        "n_train": n_train,
        "n_valid": n_valid,
        "threshold_rule": threshold_rule(cfg),
    }
    if run.main:
        for old in (out_dir / name for name in OLD_CHECKPOINTS):  # from an older highstakes
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
        best.save(out_dir)
        (out_dir / "history.json").write_text(json.dumps(state["history"], indent=2))
    if run.accelerator is not None:
        run.accelerator.wait_for_everyone()  # every process has loaded `best` already
    if run.main:
        shutil.rmtree(ckpt_dir)  # finished: the optimizer state is not needed any more
    return TrainResult(
        best, state["history"], state["best_epoch"] + 1, stopped_early,
        state.get("best_valid_scores"),
    )  # fmt: skip
