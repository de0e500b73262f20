"""One epoch of training, a screen per step: a seeded order of length-grouped batches,
weighted cross-entropy (plus SiFT or latent adversarial training when configured), clip,
optimizer step, schedule, weight average.  `trainer.train` runs it once per epoch."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from highstakes.data.records import Example
from highstakes.models.classifier import Classifier, bf16_is_fast
from highstakes.training.averaging import WeightAverage
from highstakes.training.config import TrainConfig
from highstakes.training.dropout import cpu_dropout
from highstakes.training.lat import lat_loss
from highstakes.training.sift import sift_loss

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def class_weights(labels: np.ndarray) -> torch.Tensor:
    counts = np.bincount(labels, minlength=2).astype(np.float64)
    counts[counts == 0] = 1.0
    return torch.tensor(counts.sum() / (2 * counts), dtype=torch.float32)


def classification_loss(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, focal_gamma: float = 0.0
) -> torch.Tensor:
    """Class-weighted cross-entropy, or with `focal_gamma` > 0 the focal loss: each
    example's term times (1 - p)^gamma, p the probability given to its true class; both
    are means weighted by the class weights."""
    logits = logits.float()
    if focal_gamma == 0:
        return F.cross_entropy(logits, target, weight=weights)
    log_p = F.log_softmax(logits, dim=-1).gather(1, target[:, None]).squeeze(1)
    w = weights[target]
    terms = -((1 - log_p.exp()) ** focal_gamma) * log_p
    return (w * terms).sum() / w.sum()


def length_grouped(order: np.ndarray, lengths: np.ndarray, batch_size: int) -> np.ndarray:
    """`order` rearranged so that each batch holds snippets of similar length (less
    padding: about a quarter fewer tokens on the demo set), still random: windows of 16
    batches are sorted by length, cut into batches, and the batches shuffled."""
    window = batch_size * 16
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    np.random.shuffle(batches)  # seeded by the caller
    return np.concatenate(batches) if batches else order


def padded_batches(
    clf: Classifier, examples: list[Example], labels: np.ndarray, order: np.ndarray, batch_size: int
) -> Any:
    """Encoded, padded batches of `examples` in `order`, each with its "labels"."""
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = dict(clf.encode([examples[i].snippet for i in idx]))
        batch["labels"] = torch.as_tensor(labels[idx])
        yield batch


def train_epoch(
    clf: Classifier,
    cfg: TrainConfig,
    data: tuple[list[Example], np.ndarray, np.ndarray],
    optimizer: Any,
    scheduler: Any,
    weights: torch.Tensor,
    epoch: int,
    progress: ProgressFn | None,
    accelerator: Any | None = None,
    average: WeightAverage | None = None,
) -> float:
    """One pass over `data` (examples, 0/1 labels, token counts) in a seeded,
    length-grouped order; the mean training loss."""
    examples, labels, lengths = data
    seed_everything(cfg.seed * 1000 + epoch)  # the same order and dropout when resumed
    order = length_grouped(np.random.permutation(len(examples)), lengths, cfg.batch_size)
    model = clf.model
    if accelerator is not None:  # each process takes every k-th example, equally many
        k = accelerator.num_processes
        order = order[accelerator.process_index :: k][: len(order) // k]
        model = accelerator.prepared_model
    use_bf16 = cfg.bf16 == "on" or (cfg.bf16 == "auto" and bf16_is_fast(clf.device))
    clf.model.train()
    total, n_batches = 0.0, math.ceil(len(order) / cfg.batch_size)
    with cpu_dropout(clf.model):  # cheaper dropout masks on a CPU (training/dropout.py)
        for step, batch in enumerate(padded_batches(clf, examples, labels, order, cfg.batch_size)):
            batch = {k: v.to(clf.device) for k, v in batch.items()}
            target = batch.pop("labels")
            with torch.autocast(clf.device.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = model(**batch).logits  # (B, 2)
                loss = classification_loss(logits, target, weights.to(clf.device), cfg.focal_gamma)
                if cfg.sift:
                    loss = loss + cfg.sift_config.alpha * sift_loss(
                        clf.model, batch, logits, cfg.sift_config
                    )
                if cfg.lat:  # hooks on the plain model; the training forward through `model`
                    loss = loss + cfg.lat_config.alpha * lat_loss(
                        clf.model, batch, target, cfg.lat_config, weights.to(clf.device), model
                    )
            optimizer.zero_grad(set_to_none=True)
            if accelerator is not None:
                accelerator.backward(loss)  # averages gradients across processes
            else:
                loss.backward()
            torch.nn.utils.clip_grad_norm_(clf.model.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            if average is not None:
                average.update(clf.model)
            total += loss.item()
            if progress:
                progress(f"epoch {epoch + 1}/{cfg.epochs}", step + 1, n_batches)
    return total / max(n_batches, 1)
