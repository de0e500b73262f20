"""Which blocks of the generator should the head read, and pooled how?  Validation only.

Trains heads on the same training subset for each candidate set of blocks, pooling,
`min_tokens` and C (one feature pass up to the deepest block) and reports, on the demo's
validation split, AUROC under the streaming rule (max over prefixes), AUROC of the
whole-completion features, and the false-positive rate at the threshold that keeps 95%
recall.  The test split and the external set are not looked at.

    python benchmarks/head_layers.py --layer-sets 6 12 18 24 --max-train 1000 --out FILE
    python benchmarks/head_layers.py --layer-sets 18 12,18,24 --poolings mean mean+max \\
        --c 0.0003 0.001 0.01 --no-without-prefixes --max-train 0 --out FILE
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

from highstakes.data.demo import load_dataset
from highstakes.data.splits import assign_splits
from highstakes.evaluation.metrics import auroc, metrics_at, threshold_for_recall
from highstakes.filtering.features import POOLINGS, FeatureExtractor
from highstakes.filtering.head import ProbeHead, subset, training_rows
from highstakes.models.generator import CausalLM
from highstakes.training.trainer import labeled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generator", default="embedded-smollm2")
    parser.add_argument(
        "--layer-sets",
        nargs="+",
        default=["6", "12", "18", "24"],
        help="sets of blocks, each comma-separated: 18 12,18,24",
    )
    parser.add_argument("--poolings", nargs="+", default=["mean"], choices=POOLINGS)
    parser.add_argument("--min-tokens", type=int, nargs="+", default=[4])
    parser.add_argument("--c", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument(
        "--without-prefixes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train without the harmless prefixes",
    )
    parser.add_argument("--max-train", type=int, default=600, help="0: all")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/head-layers.json"))
    args = parser.parse_args()  # fmt: skip
    layer_sets = [[int(x) for x in spec.split(",")] for spec in args.layer_sets]

    splits = assign_splits(load_dataset("demo"))
    train, train_y = labeled(subset(splits["train"], args.max_train, 0))
    valid, valid_y = labeled(splits["valid"])
    lm = CausalLM.from_pretrained(args.generator)
    extractor = FeatureExtractor(lm, args.generator)
    t0 = time.perf_counter()
    every = sorted({layer for layers in layer_sets for layer in layers})
    by_layer = extractor.token_states(
        [e.snippet for e in [*train, *valid]],
        every,
        lambda phase, done, total: print(f"\r{phase} {done}/{total}", end="", flush=True),
    )
    print()
    seconds = time.perf_counter() - t0
    prefixes = (True, False) if args.without_prefixes else (True,)
    rows = []
    grid = itertools.product(layer_sets, args.poolings, args.min_tokens, args.c, prefixes)
    for layers, pooling, min_tokens, c, neg in grid:
        states = [[by_layer[la][i] for la in layers] for i in range(len(train) + len(valid))]
        tr, va = states[: len(train)], states[len(train) :]
        x, y = training_rows(tr, train_y, min_tokens, neg, pooling)
        head = ProbeHead(args.generator, layers, pooling, min_tokens, c).fit(x, y)
        stream = head.stream_scores(va)
        threshold = threshold_for_recall(valid_y, stream, 0.95)
        row = {
            "layers": layers,
            "pooling": pooling,
            "min_tokens": min_tokens,
            "c": c,
            "negative_prefixes": neg,
            "valid_auroc_stream": auroc(valid_y, stream),
            "valid_auroc_final": auroc(valid_y, head.final_scores(va)),
            "valid_fpr_at_95_recall_stream": metrics_at(
                valid_y, stream, threshold
            ).false_positive_rate,
        }
        rows.append(row)
        print(json.dumps(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"n_train": len(train), "n_valid": len(valid), "feature_seconds": seconds}
    args.out.write_text(json.dumps({**payload, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
