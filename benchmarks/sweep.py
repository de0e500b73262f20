"""Learning-rate and schedule sweep for the demo baseline, judged on the validation split.

usage: python benchmarks/sweep.py --out sweep.json [--lr 3e-5 6e-5 1.2e-4]
                                  [--schedule linear cosine] [--weight-average 0 0.99]
                                  [--weight-average-debias] [--focal-gamma 2]
                                  [--epochs 8] [--patience 2]

Trains the embedded MiniLM on the demo set's train split once per (learning rate,
schedule, weight averaging, seed), with the demo configuration's other settings (its
early stopping and kept-epoch figure, `select`, included), and writes every
epoch's train loss and validation AUROC, recall and false-positive rate.  The
configuration is chosen on validation only, by the figure that keeps epochs (`select`):
its best value at the kept epoch, ties (within 0.002) going to the faster run.  Test and
external figures of each kept model are written too, for the record, but nothing is
chosen on them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from highstakes.data.demo import load_demo, load_external
from highstakes.data.splits import assign_splits
from highstakes.evaluation.metrics import held_out_metrics
from highstakes.loop.config import demo_config
from highstakes.training.config import TrainConfig
from highstakes.training.trainer import labeled, train


def run(cfg: TrainConfig, splits: dict[str, list[Any]], external: list[Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    with TemporaryDirectory() as tmp:
        result = train(
            cfg, splits["train"], splits["valid"], Path(tmp) / "model",
            progress=lambda phase, done, total: print(phase, flush=True)
            if "valid AUROC" in phase else None,
        )  # fmt: skip
    seconds = time.perf_counter() - t0
    clf = result.classifier
    figures = {}
    for name, examples in (("test", splits["test"]), ("external", external)):
        kept, labels = labeled(examples)
        scores = clf.score([e.snippet for e in kept])
        figures[name] = held_out_metrics(labels, scores, clf.threshold)
    best = result.history[result.best_epoch - 1]
    return {
        "learning_rate": cfg.learning_rate,
        "schedule": cfg.schedule,
        "weight_average": cfg.weight_average,
        "weight_average_debias": cfg.weight_average_debias,
        "focal_gamma": cfg.focal_gamma,
        "seed": cfg.seed,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "seconds": seconds,
        "valid_auroc": best["valid_auroc"],
        "select": cfg.select,
        "valid_selected": best[f"valid_{cfg.select}"],
        "history": result.history,
        "not_used_for_choice": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--lr", type=float, nargs="+", default=[3e-5, 6e-5, 1.2e-4])
    parser.add_argument("--schedule", nargs="+", default=["linear"])
    parser.add_argument(
        "--weight-average", type=float, nargs="+", default=[0.0], help="EMA decays; 0: off"
    )
    parser.add_argument(
        "--weight-average-debias", action="store_true", help="average the trained weights only"
    )
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="training seeds")
    parser.add_argument(
        "--focal-gamma", type=float, default=0.0, help="focal loss's gamma; 0: cross-entropy"
    )
    parser.add_argument("--epochs", type=int, default=8, help="maximum epochs")
    parser.add_argument("--patience", type=int, default=2)
    args = parser.parse_args()

    base = demo_config().train
    splits, external = assign_splits(load_demo()), load_external()
    runs = []
    grid = [
        (schedule, lr, average, seed)
        for schedule in args.schedule
        for lr in args.lr
        for average in args.weight_average
        for seed in args.seed
    ]
    for schedule, lr, average, seed in grid:
        cfg = replace(  # keeps the nested settings (sift_config, lat_config) as they are
            base,
            learning_rate=lr,
            schedule=schedule,
            weight_average=average,
            weight_average_debias=args.weight_average_debias,
            focal_gamma=args.focal_gamma,
            seed=seed,
            epochs=args.epochs,
            patience=args.patience,
        )
        print(f"== lr {lr:g}, {schedule}, weight average {average}, seed {seed}", flush=True)
        runs.append(run(cfg, splits, external))
        args.out.write_text(json.dumps({"runs": runs}, indent=2) + "\n")  # partial results
    top = max(r["valid_selected"] for r in runs)
    close = [r for r in runs if r["valid_selected"] >= top - 0.002]
    chosen = min(close, key=lambda r: r["seconds"])
    keys = ("learning_rate", "schedule", "weight_average", "best_epoch")
    summary = {"chosen": {k: chosen[k] for k in keys}}
    args.out.write_text(json.dumps({**summary, "runs": runs}, indent=2) + "\n")
    for r in runs:
        ext = r["not_used_for_choice"]["external"]
        print(
            f"lr {r['learning_rate']:g} {r['schedule']} average {r['weight_average']}: "
            f"best epoch {r['best_epoch']}/{r['epochs_run']}, "
            f"valid AUROC {r['valid_auroc']:.4f}, {r['seconds']:.0f} s "
            f"(external AUROC {ext['auroc']:.3f}, recall {ext['recall']:.3f})"
        )
    print(f"chosen on validation: {summary['chosen']}")


if __name__ == "__main__":
    main()
