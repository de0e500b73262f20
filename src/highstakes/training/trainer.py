"""Fine-tune a `Classifier` on labeled examples.

One screen per step: build batches, weighted cross-entropy (+ SiFT), clip, step, schedule;
evaluate on the validation split each epoch; keep the best model by validation AUROC;
checkpoint every epoch so a killed run resumes where it stopped; stop early when AUROC
has not improved for `patience` epochs.  Every source of randomness is seeded per epoch,
so a resumed run follows the same path as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import get_linear_schedule_with_warmup

from highstakes.data.records import Example, Label
from highstakes.evaluation.metrics import metrics_at, threshold_for_recall
from highstakes.models.classifier import Classifier
from highstakes.training.sift import SiftConfig, sift_loss

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainConfig:
    model: str = "embedded-minilm"  # alias, local folder or hub id
    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 5e-5  # a usual BERT fine-tuning rate (Devlin et al., 2019)
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    max_length: int = 160  # three sentences + one: the demo set's longest pair is ~130 tokens
    grad_clip: float = 1.0
    class_weighting: bool = True  # weight classes by inverse frequency: positives are rare
    patience: int = 2  # epochs without a better validation AUROC before stopping
    target_recall: float = 0.95  # the saved threshold flags this share of validation positives
    sift: bool = False
    sift_config: SiftConfig = field(default_factory=SiftConfig)
    seed: int = 0
    device: str | None = None  # None: cuda when available, else cpu


@dataclass
class TrainResult:
    classifier: Classifier
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool


ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)


def labeled(examples: Sequence[Example]) -> tuple[list[Example], np.ndarray]:
    """Examples with a yes/no label (unsure ones are kept out) and their 0/1 labels."""
    kept = [e for e in examples if e.label is not Label.UNSURE]
    return kept, np.array([int(e.label is Label.YES) for e in kept], dtype=np.int64)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def class_weights(labels: np.ndarray) -> torch.Tensor:
    counts = np.bincount(labels, minlength=2).astype(np.float64)
    counts[counts == 0] = 1.0
    return torch.tensor(counts.sum() / (2 * counts), dtype=torch.float32)


def _batches(
    clf: Classifier, examples: list[Example], labels: np.ndarray, order: np.ndarray, batch_size: int
) -> Any:
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = dict(clf.encode([examples[i].snippet for i in idx]))
        batch["labels"] = torch.as_tensor(labels[idx])
        yield batch


def _train_epoch(
    clf: Classifier,
    cfg: TrainConfig,
    data: tuple[list[Example], np.ndarray],
    optimizer: Any,
    scheduler: Any,
    weights: torch.Tensor,
    epoch: int,
    progress: ProgressFn | None,
) -> float:
    examples, labels = data
    seed_everything(cfg.seed * 1000 + epoch)  # the same order and dropout when resumed
    order = np.random.permutation(len(examples))
    clf.model.train()
    total, n_batches = 0.0, math.ceil(len(order) / cfg.batch_size)
    for step, batch in enumerate(_batches(clf, examples, labels, order, cfg.batch_size)):
        batch = {k: v.to(clf.device) for k, v in batch.items()}
        target = batch.pop("labels")
        logits = clf.model(**batch).logits  # (B, 2)
        loss = F.cross_entropy(logits.float(), target, weight=weights.to(clf.device))
        if cfg.sift:
            loss = loss + cfg.sift_config.alpha * sift_loss(
                clf.model, batch, logits, cfg.sift_config
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(clf.model.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        total += loss.item()
        if progress:
            progress(f"epoch {epoch + 1}/{cfg.epochs}", step + 1, n_batches)
    return total / max(n_batches, 1)


def evaluate(
    clf: Classifier,
    examples: Sequence[Example],
    threshold: float | None = None,
    target_recall: float = 0.95,
) -> dict[str, float]:
    """AUROC, recall and false-positive rate; the threshold is chosen for `target_recall`
    on these examples unless one is given."""
    kept, labels = labeled(examples)
    scores = clf.score([e.snippet for e in kept])
    if threshold is None:
        threshold = threshold_for_recall(labels, scores, target_recall)
    return {k: float(v) for k, v in metrics_at(labels, scores, threshold).as_dict().items()}


def _save_checkpoint(
    path: Path, clf: Classifier, optimizer: Any, scheduler: Any, state: dict[str, Any]
) -> None:
    tmp = path.with_suffix(".tmp")
    payload = {
        "model": clf.model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        **state,
    }
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: a crash mid-save keeps the previous checkpoint


def train(
    cfg: TrainConfig,
    train_examples: Sequence[Example],
    valid_examples: Sequence[Example],
    out_dir: str | Path,
    resume: bool = False,
    progress: ProgressFn | None = None,
) -> TrainResult:
    """Train, keep the best epoch by validation AUROC, save it to `out_dir` and return it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_data, valid_data = labeled(train_examples), labeled(valid_examples)
    if len(set(train_data[1].tolist())) < 2 or len(set(valid_data[1].tolist())) < 2:
        raise ValueError("training and validation data each need both 'yes' and 'no' examples")
    seed_everything(cfg.seed)
    clf = Classifier.from_pretrained(cfg.model, device=cfg.device, max_length=cfg.max_length)
    optimizer = torch.optim.AdamW(
        clf.model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
    )
    n_steps = cfg.epochs * math.ceil(len(train_data[0]) / cfg.batch_size)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(cfg.warmup_fraction * n_steps), n_steps
    )
    weights = class_weights(train_data[1]) if cfg.class_weighting else torch.ones(2)
    state: dict[str, Any] = {"epoch": -1, "best_auroc": -1.0, "best_epoch": -1, "history": []}
    ckpt = out_dir / CHECKPOINT
    if resume and ckpt.exists():
        saved = torch.load(ckpt, map_location=clf.device, weights_only=False)
        clf.model.load_state_dict(saved.pop("model"))
        optimizer.load_state_dict(saved.pop("optimizer"))
        scheduler.load_state_dict(saved.pop("scheduler"))
        state.update(saved)
        log.info("resuming after epoch %d", state["epoch"] + 1)
    best_dir = out_dir / "best"
    for epoch in range(state["epoch"] + 1, cfg.epochs):
        if epoch - state["best_epoch"] > cfg.patience and state["best_epoch"] >= 0:
            break
        t0 = time.perf_counter()
        loss = _train_epoch(clf, cfg, train_data, optimizer, scheduler, weights, epoch, progress)
        metrics = evaluate(clf, valid_examples, target_recall=cfg.target_recall)
        record = {"epoch": epoch + 1, "train_loss": loss, "seconds": time.perf_counter() - t0}
        state["history"].append({**record, **{f"valid_{k}": v for k, v in metrics.items()}})
        log.info("epoch %d: %s", epoch + 1, state["history"][-1])
        if metrics["auroc"] > state["best_auroc"]:
            state.update(best_auroc=metrics["auroc"], best_epoch=epoch)
            clf.threshold = metrics["threshold"]
            clf.save(best_dir, light=False)
        state["epoch"] = epoch
        _save_checkpoint(ckpt, clf, optimizer, scheduler, state)
    stopped_early = state["epoch"] + 1 < cfg.epochs
    best = Classifier.from_pretrained(best_dir, device=cfg.device)
    best.metadata = {
        "base_model": cfg.model,
        "config": {k: v for k, v in asdict(cfg).items() if k != "device"},
        "best_epoch": state["best_epoch"] + 1,
        "history": state["history"],
        "n_train": len(train_data[0]),
        "n_valid": len(valid_data[0]),
        "threshold_rule": f"flags {cfg.target_recall:.0%} of validation positives",
    }
    best.save(out_dir)
    (out_dir / "history.json").write_text(json.dumps(state["history"], indent=2))
    return TrainResult(best, state["history"], state["best_epoch"] + 1, stopped_early)
