"""GPU throughput of a DeBERTa-v3-large-shaped classifier: bf16 scoring and training, each
as a share of the GPU's dense bf16 FLOP ceiling (model FLOP utilization, MFU).

usage: python benchmarks/gpu.py --out gpu.json [--seconds 30] [--peak-tflops 989]
       python benchmarks/gpu.py --tiny --out gpu-tiny.json      # CPU, a few seconds

The model has DeBERTa-v3-large's shape (24 layers, 1024 wide, 16 heads, 128,100-token
vocabulary, relative attention) and random weights: nothing is downloaded.  Inputs are
random token ids with seeded lengths spread uniformly over 48..128 tokens (story
snippets are at most ~130), sorted by length into batches so that padding stays small.

- scoring: `torch.inference_mode`, fp32 weights under bf16 autocast (what
  `Classifier.score` does on a GPU), batches of 256;
- training: AdamW on fp32 master weights, bf16 autocast, forward + backward + gradient
  clipping + step (what the trainer does), batches of 32.

Each phase warms up on one batch of every padded length, then runs timed batches until
`--seconds` pass (the whole run takes about 3 minutes on an H200).  FLOPs come from
`torch.utils.flop_counter.FlopCounterMode` on real padded batches (padding computed
counts; its share is reported).  DeBERTa-v2 has no SDPA path in transformers (it raises
on `attn_implementation="sdpa"`, checked at run time): then a BERT-large-shaped model,
whose SDPA path exists, is measured too.  Without CUDA (or with --tiny) a tiny shape runs
and MFU is null unless --peak-tflops is given.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Guards: random weights only, so the hub must never be reached.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch
import transformers
from transformers import (
    BertForSequenceClassification,
    PreTrainedModel,
)

from gpu_shapes import (  # this folder's scripts: the shapes, batches and FLOP counts
    LARGE,
    TINY,
    Batch,
    bert_config,
    build_deberta,
    flops_by_length,
    make_batches,
)

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, from the vendors' datasheets
# (A10G: the figure; NVIDIA's A10 datasheet gives 125, so check it).  Matched on
# whole words of `torch.cuda.get_device_name()`; NVL parts have other peaks and are left
# out: pass --peak-tflops for them.
PEAK_BF16_TFLOPS = (
    ({"H100", "PCIE"}, 756.0),
    ({"H100"}, 989.0),  # SXM, e.g. "NVIDIA H100 80GB HBM3"
    ({"H200"}, 989.0),  # SXM: the H100's chip with more memory
    ({"A100"}, 312.0),
    ({"L4"}, 121.0),
    ({"A10G"}, 70.0),
)


def datasheet_peak_tflops(device_name: str) -> float | None:
    words = set(re.split(r"[\s\-_]+", device_name.upper()))
    if "NVL" in words:
        return None
    return next((peak for names, peak in PEAK_BF16_TFLOPS if names <= words), None)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_phase(
    step: Callable[[Batch], None], batches: list[Batch], args: argparse.Namespace,
    device: torch.device,
) -> tuple[list[Batch], float]:  # fmt: skip
    """Warm-up, then timed batches until `args.seconds` or `args.max_batches`.

    The warm-up runs one batch of every padded length first: kernels picked and cached
    per shape (cuDNN builds an attention graph for each new shape, ~0.1 s on an H200)
    are a cost of the first epoch, not of steady-state throughput."""
    one_per_length = list({b.padded_length: b for b in batches}.values())
    for batch in one_per_length + batches[: args.warmup]:
        step(batch)
    synchronize(device)
    done: list[Batch] = []
    start = time.perf_counter()
    while len(done) < args.max_batches and time.perf_counter() - start < args.seconds:
        batch = batches[len(done) % len(batches)]
        step(batch)
        synchronize(device)  # each batch finished before the clock is read
        done.append(batch)
    return done, time.perf_counter() - start


def phase_figures(
    done: list[Batch], seconds: float, flops: dict[int, int], peak_tflops: float | None,
    device: torch.device,
) -> dict[str, Any]:  # fmt: skip
    n_snippets = sum(len(b.labels) for b in done)
    n_tokens = sum(b.n_tokens for b in done)
    n_padded = sum(b.input_ids.numel() for b in done)
    total_flops = sum(flops[b.padded_length] for b in done)
    achieved_tflops = total_flops / seconds / 1e12
    return {
        "n_batches": len(done),
        "n_snippets": n_snippets,
        "n_tokens": n_tokens,
        "n_padded_tokens": n_padded,
        "padding_share": 1 - n_tokens / n_padded,
        "seconds": seconds,
        "snippets_per_s": n_snippets / seconds,
        "tokens_per_s": n_tokens / seconds,
        "flops": total_flops,
        "flops_per_padded_length": {str(t): f for t, f in sorted(flops.items())},
        "achieved_tflops": achieved_tflops,
        "mfu": achieved_tflops / peak_tflops if peak_tflops else None,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30
        if device.type == "cuda"
        else None,
    }


def measure(
    name: str, phase: str, steps: tuple[Callable[[Batch], None], Callable[[Batch], None]],
    batches: list[Batch], args: argparse.Namespace, device: torch.device,
) -> dict[str, Any]:  # fmt: skip
    """`steps`: the step FLOPs are counted on, and the same step as it is timed."""
    count_step, step = steps
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    flops = flops_by_length(count_step, batches)
    done, seconds = timed_phase(step, batches, args, device)
    figures = phase_figures(done, seconds, flops, args.peak_tflops, device)
    figures["batch_size"] = len(batches[0].labels)
    mfu = "n/a (no ceiling)" if figures["mfu"] is None else f"{figures['mfu']:.1%}"
    memory = figures["peak_memory_gib"]
    print(
        f"{name} {phase}: {figures['n_batches']} batches in {seconds:.1f} s, "
        f"{figures['snippets_per_s']:,.0f} snippets/s, {figures['tokens_per_s']:,.0f} tokens/s, "
        f"{figures['achieved_tflops']:.3g} TFLOP/s, MFU {mfu}, "
        f"padding {figures['padding_share']:.1%}"
        + (f", peak memory {memory:.1f} GiB" if memory is not None else ""),
        flush=True,
    )
    return figures


def scoring_step(
    model: PreTrainedModel, device: torch.device, no_grad: Callable[[], Any] = torch.inference_mode
) -> Callable[[Batch], None]:
    """`no_grad`: torch.no_grad for FlopCounterMode, whose module hooks fail under
    inference_mode (the FLOPs are the same)."""

    def step(batch: Batch) -> None:
        with no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
            logits.float().softmax(-1)[:, 1]  # P(positive), as the scorer returns it

    return step


def training_step(
    model: PreTrainedModel, optimizer: torch.optim.Optimizer, device: torch.device
) -> Callable[[Batch], None]:
    def step(batch: Batch) -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = model(
                input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels
            ).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # as the trainer does
        optimizer.step()  # elementwise: FlopCounterMode counts no FLOPs here

    return step


def measure_model(
    name: str, model: PreTrainedModel, attention: str, args: argparse.Namespace,
    device: torch.device,
) -> dict[str, Any]:  # fmt: skip
    """Scoring, then training, of one model; the model is used up (trained) afterwards."""
    config = model.config
    vocab, lengths = config.vocab_size, (args.min_length, args.max_length)
    row: dict[str, Any] = {
        "name": name,
        "class": type(model).__name__,
        "attention": attention,
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "config": {
            k: v for k, v in config.to_diff_dict().items() if k not in ("id2label", "label2id")
        },
    }
    model.eval()
    scoring = make_batches(
        args.snippets, args.scoring_batch_size, vocab, lengths, args.seed, device
    )
    steps = scoring_step(model, device, torch.no_grad), scoring_step(model, device)
    row["scoring"] = measure(name, "scoring", steps, scoring, args, device)
    row["scoring"]["precision"] = "fp32 weights, bf16 autocast, inference_mode"
    model.train()  # dropout on, as in training
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    training = make_batches(
        args.snippets, args.training_batch_size, vocab, lengths, args.seed, device
    )
    step = training_step(model, optimizer, device)
    row["training"] = measure(name, "training", (step, step), training, args, device)
    row["training"]["precision"] = "fp32 master weights and AdamW state, bf16 autocast"
    return row


def matmul_tflops(device: torch.device, size: int = 8192, repeats: int = 20) -> float:
    """What one large bf16 matrix product reaches here: the practical ceiling."""
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e12


def environment(device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    return {
        "device": {
            "type": device.type,
            "name": name or platform.machine(),
            "peak_bf16_tflops": args.peak_tflops,
            "peak_source": args.peak_source,
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "transformers": transformers.__version__,
        },
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--tiny", action="store_true", help="tiny shape (automatic without CUDA)")
    parser.add_argument("--seconds", type=float, help="timed seconds per phase (30; tiny 1)")
    parser.add_argument("--max-batches", type=int, help="timed batches per phase (2000; tiny 4)")
    parser.add_argument("--warmup", type=int, help="untimed batches per phase (5; tiny 1)")
    parser.add_argument("--snippets", type=int, help="snippets per phase's pool (8192; tiny 16)")
    parser.add_argument("--scoring-batch-size", type=int, help="(256; tiny 8)")
    parser.add_argument("--training-batch-size", type=int, help="(32; tiny 4)")
    parser.add_argument("--min-length", type=int, default=48, help="shortest snippet, tokens")
    parser.add_argument("--max-length", type=int, default=128, help="longest snippet, tokens")
    parser.add_argument(
        "--peak-tflops", type=float, help="dense bf16 ceiling; default: the datasheet table"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.cuda = torch.cuda.is_available()
    args.tiny = args.tiny or not args.cuda
    defaults = {"seconds": 30.0, "max_batches": 2000, "warmup": 5, "snippets": 8192,
                "scoring_batch_size": 256, "training_batch_size": 32}  # fmt: skip
    tiny = {"seconds": 1.0, "max_batches": 4, "warmup": 1, "snippets": 16,
            "scoring_batch_size": 8, "training_batch_size": 4}  # fmt: skip
    for key, value in (tiny if args.tiny else defaults).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.peak_source = "--peak-tflops" if args.peak_tflops else None
    if args.peak_tflops is None and args.cuda and not args.tiny:
        args.peak_tflops = datasheet_peak_tflops(torch.cuda.get_device_name())
        args.peak_source = "datasheet table" if args.peak_tflops else None
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    args = parse_args(argv)
    device = torch.device("cuda" if args.cuda else "cpu")
    shape, size = (TINY, "tiny") if args.tiny else (LARGE, "large")
    result: dict[str, Any] = {
        "benchmark": "gpu",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        **environment(device, args),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "peak_source")},
        "method": {
            "flops": "FlopCounterMode on real padded batches at up to 3 padded lengths, a "
            "quadratic in the length (exact for a transformer) for the others; padding counts",
            "timing": "perf_counter around each batch's step and a device synchronize; "
            "untimed warm-up: one batch of every padded length, then --warmup batches",
            "mfu": "achieved FLOP/s over peak_bf16_tflops (dense, datasheet or --peak-tflops)",
        },
    }
    info = result["device"]
    print(
        f"{info['name']} ({device.type}), torch {torch.__version__}, CUDA {torch.version.cuda}, "
        f"transformers {transformers.__version__}, shape {size}, "
        f"ceiling {args.peak_tflops or 'unknown'} TFLOP/s ({args.peak_source or 'none'})",
        flush=True,
    )
    if device.type == "cuda":
        result["matmul_tflops"] = matmul_tflops(device)
        print(f"8192^3 bf16 matrix product: {result['matmul_tflops']:.0f} TFLOP/s", flush=True)
    torch.manual_seed(args.seed)
    model, attention = build_deberta(shape, device)
    result["models"] = [measure_model(f"deberta-v3-{size}-shape", model, attention, args, device)]
    del model
    gc.collect()  # free the first model's memory before the second model's peak is read
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if attention != "sdpa":  # measure the SDPA path on a model that has it
        torch.manual_seed(args.seed)
        with torch.device(device):
            bert = BertForSequenceClassification(bert_config(shape))
        attention = bert.config._attn_implementation  # "sdpa", as asked, or an error above
        result["models"].append(measure_model(f"bert-{size}-shape", bert, attention, args, device))
    result["wall_seconds"] = time.perf_counter() - started
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['wall_seconds']:.0f} s in all; wrote {args.out}", flush=True)
    return result


if __name__ == "__main__":
    main()
