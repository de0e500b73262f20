"""Which block of the generator should the head read?  A validation-only comparison.

Trains a head on the same training subset at each candidate layer (one feature pass up
to the deepest) and reports, on the demo's validation split, AUROC under the streaming
rule (max over prefixes) and of the final mean, for a few `min_tokens` values.  The test
split and the external set are not looked at.

    python benchmarks/head_layers.py --layers 6 12 18 24 --max-train 600 --out FILE
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from highstakes.data.demo import load_dataset
from highstakes.data.splits import assign_splits
from highstakes.evaluation.metrics import auroc, metrics_at, threshold_for_recall
from highstakes.filtering.features import FeatureExtractor
from highstakes.filtering.head import ProbeHead, labeled_snippets, subset, training_rows
from highstakes.models.generator import CausalLM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generator", default="embedded-smollm2")
    parser.add_argument("--layers", type=int, nargs="+", default=[6, 12, 18, 24])
    parser.add_argument("--min-tokens", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--c", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--max-train", type=int, default=600)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/head-layers.json"))
    args = parser.parse_args()

    splits = assign_splits(load_dataset("demo"))
    train, train_y = labeled_snippets(subset(splits["train"], args.max_train, 0))
    valid, valid_y = labeled_snippets(splits["valid"])
    lm = CausalLM.from_pretrained(args.generator)
    extractor = FeatureExtractor(lm, args.generator)
    t0 = time.perf_counter()
    states = extractor.token_states(
        [e.snippet for e in [*train, *valid]],
        args.layers,
        lambda phase, done, total: print(f"\r{phase} {done}/{total}", end="", flush=True),
    )
    print()
    seconds = time.perf_counter() - t0
    rows = []
    for layer in args.layers:
        tr, va = states[layer][: len(train)], states[layer][len(train) :]
        for min_tokens in args.min_tokens:
            for c in args.c:
                for neg in (False, True):
                    x, y = training_rows(tr, train_y, min_tokens, neg)
                    head = ProbeHead(args.generator, layer, min_tokens, c).fit(x, y)
                    stream = head.stream_scores(va)
                    threshold = threshold_for_recall(valid_y, stream, 0.95)
                    row = {
                        "layer": layer,
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
    payload = {
        "n_train": len(train),
        "n_valid": len(valid),
        "feature_seconds": seconds,
        "rows": rows,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
