"""Which classifier for the demo generalizes best: the comparison behind docs/classifier.md.

usage: python benchmarks/backbones.py --out backbones.json [--model runs/demo/round-0/model]
                                      [--skip-mean-pool]

Candidates, all on the embedded MiniLM and the demo set's train split, each with its
threshold chosen on validation to flag 95% of the validation positives:
- `finetuned-cls`: the demo's own classifier (Hugging Face sequence classification: the
  [CLS] token through BERT's pooler), read from --model (the loop's round 0 by default);
- `finetuned-mean`: the same fine-tuning with a mean-pooled head instead of [CLS]
  (all-MiniLM-L6-v2 was trained for mean pooling): the demo's epochs, learning rate,
  schedule, weight averaging and early stopping;
- `frozen-mean-logreg`: logistic regression on frozen, mean-pooled MiniLM embeddings
  (C chosen on validation AUROC), the reference the classifier issue started from; it
  reads the pair, or the pair and the completion alone (`--logreg-features`);
- `ensemble`: the mean of `finetuned-cls` and `frozen-mean-logreg` probabilities.
For each: AUROC, recall and false-positive rate on validation, the in-distribution test
split and the external set, with intervals (the shared `held_out_metrics`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from transformers import AutoModel, AutoTokenizer, get_scheduler

from highstakes.data.demo import load_demo, load_external
from highstakes.data.splits import assign_splits
from highstakes.evaluation.metrics import auroc, held_out_metrics, threshold_for_recall
from highstakes.loop.config import demo_config
from highstakes.models.classifier import Classifier
from highstakes.models.embedded import minilm_folder
from highstakes.training.averaging import WeightAverage
from highstakes.training.epoch import class_weights, length_grouped
from highstakes.training.trainer import labeled

SETS = ("valid", "test", "external")


class MeanPooled(torch.nn.Module):
    """MiniLM with a linear head on the attention-masked mean of its last hidden states."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = AutoModel.from_pretrained(minilm_folder())
        self.dropout = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, 2)

    def forward(self, **batch: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(**batch).last_hidden_state  # (B, T, H)
        mask = batch["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
        return self.head(self.dropout((hidden * mask).sum(1) / mask.sum(1)))  # (B, 2)


def encode(tokenizer: Any, snippets: list[Any], max_length: int) -> Any:
    return tokenizer(
        [s.prompt for s in snippets],
        [s.completion for s in snippets],
        truncation="only_first",
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )


@torch.inference_mode()
def mean_embeddings(
    encoder: Any, tokenizer: Any, snippets: list[Any], max_length: int, features: str
) -> Any:
    """Normalized mean-pooled embeddings: of the (prompt, completion) pair (`pair`), or
    of the pair and of the completion alone side by side (`pair+completion`), so that
    the one sentence being judged is not diluted by the three before it."""
    out = []
    for i in range(0, len(snippets), 64):
        chunk = snippets[i : i + 64]
        parts = [encode(tokenizer, chunk, max_length)]
        if features == "pair+completion":
            parts.append(tokenizer([s.completion for s in chunk], padding=True,
                                   return_tensors="pt"))  # fmt: skip
        vectors = []
        for batch in parts:
            hidden = encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            vectors.append(F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))
        out.append(torch.cat(vectors, dim=-1).numpy())
    return np.concatenate(out)


def finetune_mean(data: dict[str, Any], seed: int = 0) -> tuple[dict[str, Any], list[dict]]:
    """The demo's baseline training (epochs, learning rate, schedule, weight averaging,
    early stopping on validation AUROC, bf16 autocast), with a mean-pooled head."""
    cfg = demo_config().train
    torch.manual_seed(seed)
    np.random.seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(minilm_folder())
    model = MeanPooled()
    snippets, labels = data["train"]
    lengths = np.array([len(ids) for ids in tokenizer(
        [s.prompt for s in snippets], [s.completion for s in snippets])["input_ids"]])  # fmt: skip
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
    )
    n_steps = cfg.epochs * math.ceil(len(snippets) / cfg.batch_size)
    scheduler = get_scheduler(
        "cosine" if cfg.schedule == "cosine" else "linear",
        optimizer,
        int(cfg.warmup_fraction * n_steps),
        n_steps,
    )
    weights = class_weights(labels)
    average = WeightAverage(model, cfg.weight_average) if cfg.weight_average else None

    @torch.inference_mode()
    def score(items: list[Any]) -> np.ndarray:
        model.eval()
        out = []
        for i in range(0, len(items), 64):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(**encode(tokenizer, items[i : i + 64], cfg.max_length)).float()
            out.append(torch.softmax(logits, -1)[:, 1].numpy())
        return np.concatenate(out)

    history: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any]] = (-1.0, {})
    for epoch in range(cfg.epochs):
        model.train()
        order = length_grouped(np.random.permutation(len(snippets)), lengths, cfg.batch_size)
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            batch = encode(tokenizer, [snippets[i] for i in idx], cfg.max_length)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(**batch).float()
            loss = F.cross_entropy(logits, torch.as_tensor(labels[idx]), weight=weights)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            if average is not None:
                average.update(model)
        with average.applied(model) if average else nullcontext():
            scores = {name: score(data[name][0]) for name in SETS}
        valid_auroc = auroc(data["valid"][1], scores["valid"])
        history.append({"epoch": epoch + 1, "valid_auroc": valid_auroc})
        print(f"  mean-pooled epoch {epoch + 1}: valid AUROC {valid_auroc:.4f}", flush=True)
        if valid_auroc > best[0]:
            best = (valid_auroc, scores)
        elif len(history) - max(range(len(history)), key=lambda i: history[i]["valid_auroc"]) > (
            cfg.patience
        ):
            break
    return best[1], history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--model", type=Path, default=Path("runs/demo/round-0/model"))
    parser.add_argument("--skip-mean-pool", action="store_true", help="skip the slow fine-tune")
    parser.add_argument(
        "--logreg-features",
        choices=["pair", "pair+completion"],
        default="pair+completion",
        help="what the frozen-embedding logistic regression reads",
    )
    args = parser.parse_args()

    splits = assign_splits(load_demo())
    data: dict[str, Any] = {}
    for name, examples in [*splits.items(), ("external", load_external())]:
        kept, labels = labeled(examples)
        data[name] = ([e.snippet for e in kept], labels)
    candidates: dict[str, dict[str, np.ndarray]] = {}
    seconds: dict[str, float] = {}

    clf = Classifier.from_pretrained(args.model)
    candidates["finetuned-cls"] = {name: clf.score(data[name][0]) for name in SETS}
    seconds["finetuned-cls"] = sum(h["seconds"] for h in clf.metadata.get("history", []))

    t0 = time.perf_counter()
    cfg = demo_config().train
    tokenizer = AutoTokenizer.from_pretrained(minilm_folder())
    encoder = AutoModel.from_pretrained(minilm_folder()).eval()
    vectors = {
        name: mean_embeddings(
            encoder, tokenizer, data[name][0], cfg.max_length, args.logreg_features
        )
        for name in ("train", *SETS)
    }
    fits = []
    for c in (0.1, 0.3, 1.0, 3.0, 10.0):
        model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
        model.fit(vectors["train"], data["train"][1])
        valid = model.predict_proba(vectors["valid"])[:, 1]
        fits.append((auroc(data["valid"][1], valid), c, model))
    _, best_c, logreg = max(fits, key=lambda f: f[0])
    candidates["frozen-mean-logreg"] = {
        name: logreg.predict_proba(vectors[name])[:, 1] for name in SETS
    }
    seconds["frozen-mean-logreg"] = time.perf_counter() - t0
    candidates["ensemble"] = {
        name: (candidates["finetuned-cls"][name] + candidates["frozen-mean-logreg"][name]) / 2
        for name in SETS
    }
    histories: dict[str, Any] = {}
    if not args.skip_mean_pool:
        t0 = time.perf_counter()
        candidates["finetuned-mean"], histories["finetuned-mean"] = finetune_mean(data)
        seconds["finetuned-mean"] = time.perf_counter() - t0

    result: dict[str, Any] = {
        "logreg_C": best_c,
        "logreg_features": args.logreg_features,
        "candidates": {},
    }
    for name, scores in candidates.items():
        threshold = threshold_for_recall(data["valid"][1], scores["valid"], 0.95)
        figures = {s: held_out_metrics(data[s][1], scores[s], threshold) for s in SETS}
        result["candidates"][name] = {"seconds": seconds.get(name), **figures}
        ext = figures["external"]
        print(
            f"{name:20s} valid AUROC {figures['valid']['auroc']:.3f}  test AUROC "
            f"{figures['test']['auroc']:.3f}  external AUROC {ext['auroc']:.3f} "
            f"recall {ext['recall']:.3f} FPR {ext['false_positive_rate']:.3f}"
        )
    result["histories"] = histories
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
