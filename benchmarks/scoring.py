"""Bulk scoring throughput with exact decisions, in one run on the same snippets:

- the transformers `pipeline("text-classification")` at its default batch size (1) and at
  its best batch size (the fastest of --pipeline-batch-sizes on a first slice);
- ONNX Runtime on the same model exported to ONNX, fp32 with full graph optimization,
  fed the same length-sorted batches as ours (the CPU anchor);
- ours in fp32 (`Classifier.score`), and ours fast (`Classifier.score_decisive`: bf16
  where the CPU has native bf16, with fp32 rescoring of every snippet whose fast score is
  near the threshold; fp32 elsewhere, int8 having been measured and rejected).

usage: python benchmarks/scoring.py --model runs/demo/round-0/model --out scoring.json

The snippets are --n demo snippets drawn at random (seed 0).  Every method's scores are
compared with ours in fp32: the largest absolute difference, and how many flag decisions
(score >= the model's saved threshold) differ.  Each method is timed --repeats times,
the methods taking turns, and its fastest time is kept, so that a burst of load from
elsewhere on the machine does not decide a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import torch
from transformers import pipeline

from highstakes.data.demo import load_demo
from highstakes.data.records import Snippet
from highstakes.models.classifier import FAST_MARGINS, POSITIVE_INDEX, Classifier

Scorer = Callable[[list[Snippet]], np.ndarray]


def pipeline_scorer(clf: Classifier, batch_size: int) -> Scorer:
    pipe = pipeline(
        "text-classification", model=clf.model, tokenizer=clf.tokenizer, device=clf.device
    )
    label = clf.model.config.id2label[POSITIVE_INDEX]

    def score(snippets: list[Snippet]) -> np.ndarray:
        inputs = [{"text": s.prompt, "text_pair": s.completion} for s in snippets]
        out = pipe(inputs, top_k=None, batch_size=batch_size, truncation=True)
        rows = cast(list[list[dict[str, Any]]], out)  # top_k=None: every label's score per input
        return np.array([next(d["score"] for d in row if d["label"] == label) for row in rows])

    return score


def onnx_scorer(clf: Classifier, folder: Path, batch_size: int) -> Scorer:
    """Export the classifier to ONNX (dynamic batch and length) and score with ONNX Runtime,
    fp32, all graph optimizations, as many threads as torch uses."""
    import onnxruntime as ort

    example = clf.encode([Snippet("A prompt.", "A completion."), Snippet("Two.", "Three.")])
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in example]
    path = folder / "model.onnx"
    dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("length")}
    torch.onnx.export(
        clf.model.float().eval(),
        (),
        str(path),
        kwargs={n: example[n] for n in names},
        input_names=names,
        output_names=["logits"],
        dynamic_shapes={n: dims for n in names},
        dynamo=True,
        optimize=True,
    )
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def score(snippets: list[Snippet]) -> np.ndarray:
        encoded = clf.encode(snippets, padding=False)
        lengths = np.array([len(ids) for ids in encoded["input_ids"]])
        order = np.argsort(-lengths, kind="stable")
        out = np.empty(len(snippets))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = clf.tokenizer.pad(
                [{n: encoded[n][i] for n in names} for i in idx], return_tensors="np"
            )
            logits = session.run(["logits"], {n: batch[n].astype(np.int64) for n in names})[0]
            logits = logits - logits.max(axis=1, keepdims=True)
            probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            out[idx] = probs[:, POSITIVE_INDEX]
        return out

    return score


def timed(fn: Scorer, snippets: list[Snippet]) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    scores = fn(snippets)
    return scores, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained classifier folder")
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--n", type=int, default=1024, help="snippets to score")
    parser.add_argument("--batch-size", type=int, default=64, help="ours and ONNX Runtime")
    parser.add_argument(
        "--pipeline-batch-sizes", default="1,8,16,32,64", help="pipeline sizes to try"
    )
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per method")
    parser.add_argument(
        "--fast-kind",
        choices=["bf16", "fp32"],
        help="force the fast path's kind (default: bf16 where native, else fp32)",
    )
    args = parser.parse_args()

    torch.manual_seed(0)
    clf = Classifier.from_pretrained(args.model)
    demo = load_demo()
    snippets = [e.snippet for e in random.Random(0).sample(demo, min(args.n, len(demo)))]
    n = len(snippets)

    sizes = [int(x) for x in args.pipeline_batch_sizes.split(",")]
    trial = snippets[:128]
    pipeline_speed = {}
    for size in sizes:  # the pipeline's best batch size, chosen on a first slice
        fn = pipeline_scorer(clf, size)
        fn(trial[:8])
        pipeline_speed[size] = len(trial) / timed(fn, trial)[1]
    best = max(pipeline_speed, key=pipeline_speed.__getitem__)

    stats: dict[str, dict[str, float]] = {}

    def ours_fast(batch: list[Snippet]) -> np.ndarray:
        scores, rescored = clf.score_decisive(batch, args.batch_size, kind=args.fast_kind)
        stats["ours_fast"] = {"rescored": float(rescored)}
        return scores

    with tempfile.TemporaryDirectory() as tmp:
        methods: dict[str, Scorer] = {
            "pipeline_default": pipeline_scorer(clf, 1),
            "pipeline_best": pipeline_scorer(clf, best),
            "onnxruntime_fp32": onnx_scorer(clf, Path(tmp), args.batch_size),
            "ours_fp32": lambda batch: clf.score(batch, args.batch_size),
            "ours_fast": ours_fast,
        }
        for fn in methods.values():  # warm-up: first calls allocate and pick kernels
            fn(snippets[:64])
        times = {name: float("inf") for name in methods}
        scores: dict[str, np.ndarray] = {}
        for _ in range(args.repeats):
            for name, fn in methods.items():
                scores[name], seconds = timed(fn, snippets)
                times[name] = min(times[name], seconds)
                print(f"{name}: {n / seconds:.1f} snippets/s", flush=True)

    reference = scores["ours_fp32"]
    flags = reference >= clf.threshold
    result: dict[str, object] = {
        "n": n,
        "model": str(args.model),
        "threshold": clf.threshold,
        "fast_kind": args.fast_kind or clf.fast_kind(),
        "fast_margin_log_odds": FAST_MARGINS[args.fast_kind or clf.fast_kind()],
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "pipeline_best_batch_size": best,
        "pipeline_trial_per_s": pipeline_speed,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
    }
    for name in methods:
        result[name] = {
            "per_s": n / times[name],
            "ratio_to_pipeline_default": times["pipeline_default"] / times[name],
            "decisions_differing_from_fp32": int(np.sum((scores[name] >= clf.threshold) != flags)),
            "max_abs_diff_from_fp32": float(np.max(np.abs(scores[name] - reference))),
            **stats.get(name, {}),
        }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
