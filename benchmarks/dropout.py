"""Training-step time with torch's dropout and AdamW against `cpu_dropout` and fused AdamW.

usage: python benchmarks/dropout.py --out dropout.json [--steps 12] [--batch-size 32]

Trains the embedded MiniLM (bf16 autocast where native, as the trainer does) on demo
snippets, the two set-ups in turn on the same batches, and reports the median time of a
step and of its parts (forward, backward, clip and optimizer), plus the time to draw one
attention-sized dropout mask each way and the drop rate measured on it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np
import torch
import torch.nn.functional as F

from highstakes.data.demo import load_demo
from highstakes.data.records import Label
from highstakes.models.classifier import Classifier, bf16_is_fast
from highstakes.training.dropout import cpu_dropout, drop


def mask_times(shape: tuple[int, ...], p: float = 0.1, repeats: int = 10) -> dict[str, float]:
    x = torch.ones(shape, dtype=torch.bfloat16)
    out: dict[str, float] = {}
    for name, fn in (("torch", lambda: F.dropout(x, p, True)), ("ours", lambda: drop(x, p))):
        fn()
        t0 = time.perf_counter()
        for _ in range(repeats):
            y = fn()
        out[f"{name}_ms"] = (time.perf_counter() - t0) / repeats * 1000
        out[f"{name}_drop_rate"] = float((y == 0).float().mean())
    return out


def step_times(fast: bool, batches: list[dict[str, torch.Tensor]], seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    clf = Classifier.from_pretrained("embedded-minilm", device="cpu", max_length=128)
    model = clf.model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, fused=fast)
    bf16 = bf16_is_fast(clf.device)
    parts: dict[str, list[float]] = {"forward": [], "backward": [], "optimizer": []}
    with cpu_dropout(model) if fast else contextlib.nullcontext():
        for i, batch in enumerate(batches):
            inputs = {k: v for k, v in batch.items() if k != "labels"}
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(**inputs).logits.float(), batch["labels"])
            t1 = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            t2 = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            t3 = time.perf_counter()
            if i >= 2:  # the first steps warm caches and allocators
                for name, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                    parts[name].append(dt)
    steps = [sum(ts) for ts in zip(*parts.values(), strict=True)]
    return {"step_s": float(np.median(steps))} | {
        f"{k}_s": float(np.median(v)) for k, v in parts.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2, help="alternations of the two set-ups")
    args = ap.parse_args()
    clf = Classifier.from_pretrained("embedded-minilm", device="cpu", max_length=128)
    demo = [e for e in load_demo() if e.label is not Label.UNSURE]
    rng = np.random.default_rng(0)
    picked = rng.choice(len(demo), args.steps * args.batch_size, replace=False)
    batches = []
    for i in range(args.steps):
        chunk = [demo[j] for j in picked[i * args.batch_size : (i + 1) * args.batch_size]]
        batch = dict(clf.encode([e.snippet for e in chunk]))
        batch["labels"] = torch.tensor([int(e.label is Label.YES) for e in chunk])
        batches.append(batch)
    runs: dict[str, list[dict[str, Any]]] = {"torch": [], "ours": []}
    for r in range(args.rounds):
        for name in runs:
            runs[name].append(step_times(name == "ours", batches, seed=r))
    result: dict[str, Any] = {
        "threads": torch.get_num_threads(),
        "bf16": bf16_is_fast(torch.device("cpu")),
        "batch_size": args.batch_size,
        "steps_timed_per_run": args.steps - 2,
        "mean_tokens_per_batch": float(np.mean([b["input_ids"].numel() for b in batches])),
        "attention_mask_32x12x96x96": mask_times((32, 12, 96, 96)),
    }
    for name, rs in runs.items():
        result[name] = {k: float(np.median([r[k] for r in rs])) for k in rs[0]}
    result["step_speedup"] = result["torch"]["step_s"] / result["ours"]["step_s"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
