"""Scoring throughput: our batched, length-bucketed scorer against a plain
`transformers.pipeline("text-classification")`, on the same snippets in one run.

usage: python benchmarks/scoring.py --n 1024 --out scoring.json [--model DIR]

Without --model the embedded MiniLM gets a two-label head seeded with 0 (the numbers
measure speed, not accuracy).  Writes {"ours_per_s", "baseline_per_s", "ratio",
"max_abs_diff", ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import torch
from transformers import pipeline

from highstakes.data.demo import load_demo
from highstakes.models.classifier import POSITIVE_INDEX, Classifier


def baseline_scores(clf: Classifier, snippets: list, batch_size: int) -> np.ndarray:
    pipe = pipeline(
        "text-classification", model=clf.model, tokenizer=clf.tokenizer, device=clf.device
    )
    inputs = [{"text": s.prompt, "text_pair": s.completion} for s in snippets]
    label = clf.model.config.id2label[POSITIVE_INDEX]
    out = pipe(inputs, top_k=None, batch_size=batch_size, truncation=True)
    return np.array([next(d["score"] for d in row if d["label"] == label) for row in out])


def timed(fn, *args) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024, help="snippets to score")
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--model", default="embedded-minilm", help="model folder or alias")
    parser.add_argument("--batch-size", type=int, default=64, help="our batch size")
    parser.add_argument(
        "--baseline-batch-size",
        type=int,
        default=1,
        help="pipeline batch size (1 is the pipeline's default)",
    )
    args = parser.parse_args()

    torch.manual_seed(0)
    clf = Classifier.from_pretrained(args.model)
    demo = load_demo()
    snippets = [demo[i % len(demo)].snippet for i in range(args.n)]
    clf.score(snippets[:64])  # warm-up both paths on a few snippets
    baseline_scores(clf, snippets[:8], args.baseline_batch_size)

    base, base_s = timed(baseline_scores, clf, snippets, args.baseline_batch_size)
    ours, ours_s = timed(clf.score, snippets, args.batch_size)
    result = {
        "n": args.n,
        "model": args.model,
        "device": str(clf.device),
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "ours_per_s": args.n / ours_s,
        "baseline_per_s": args.n / base_s,
        "ratio": base_s / ours_s,
        "max_abs_diff": float(np.max(np.abs(ours - base))),
        "batch_size": args.batch_size,
        "baseline_batch_size": args.baseline_batch_size,
    }
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
