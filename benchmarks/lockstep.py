"""What attacking targets side by side saves: the demo's attack recipes on the demo's
evaluation targets (injurious test snippets the model flags), run `together` at a time
(`highstakes.attacks.run.attack_together`) for several group sizes.

usage: python benchmarks/lockstep.py --model runs/demo/round-0/model --out FILE
       [--section attack|heldout] [--targets 48] [--budget 100] [--together 1,4,8,16,32]

For each group size: wall seconds, the classifier's batches (how many, mean size), the
successes and queries, and how many targets got exactly what one-at-a-time runs got (the
same queries and the same result snippet).  Decisions are fp32's either way; the fast
(bf16) scores may differ in their last bits with the batch, which can turn a search's
path where two candidates nearly tie.  Run on a quiet machine; it states the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from highstakes.attacks.base import SearchResult
from highstakes.attacks.run import attack_together
from highstakes.data.demo import load_demo
from highstakes.data.splits import assign_splits
from highstakes.loop import stages
from highstakes.loop.config import demo_config
from highstakes.models.classifier import Classifier


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


class Counting:
    """Wraps the classifier's fast path to count its batches."""

    def __init__(self, clf: Classifier) -> None:
        self.batches: list[int] = []
        self.inner = clf.score_decisive

    def __call__(self, snippets: Any, *args: Any, **kwargs: Any) -> Any:
        self.batches.append(len(snippets))
        return self.inner(snippets, *args, **kwargs)


def run(clf: Classifier, attack: Any, targets: list, budget: int, together: int) -> dict:
    counting = Counting(clf)
    clf.score_decisive = counting  # type: ignore[method-assign]
    results: list[SearchResult] = []
    t0 = time.perf_counter()
    try:
        for i in range(0, len(targets), together):
            group = [e.snippet for e in targets[i : i + together]]
            results.extend(attack_together(attack, clf, group, clf.threshold, budget))
    finally:
        clf.score_decisive = counting.inner  # type: ignore[method-assign]
    seconds = time.perf_counter() - t0
    return {
        "together": together,
        "seconds": round(seconds, 2),
        "seconds_per_target": round(seconds / len(targets), 3),
        "batches": len(counting.batches),
        "mean_batch": round(sum(counting.batches) / max(1, len(counting.batches)), 2),
        "succeeded": sum(r.succeeded for r in results),
        "queries": sum(r.queries for r in results),
        "_results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="trained classifier folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--section", choices=("attack", "heldout"), default="attack")
    parser.add_argument("--targets", type=int, default=48)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--together", default="1,4,8,16,32")
    args = parser.parse_args()

    clf = Classifier.from_pretrained(args.model)
    spec = getattr(demo_config(), args.section)
    attack = stages.build_attack(spec, clf, {})
    test = assign_splits(load_demo())["test"]
    ordered = stages.pick_targets(test, len(test), 0, "eval")  # the loop's order
    scores = clf.score([e.snippet for e in ordered])
    flagged = [e for e, s in zip(ordered, scores, strict=True) if s >= clf.threshold]
    targets = flagged[: args.targets]

    run(clf, attack, flagged[-2:], args.budget, 1)  # warm-up: the lazy loads (WordNet, ...)
    rows = [run(clf, attack, targets, args.budget, int(g)) for g in args.together.split(",")]
    alone = rows[0]["_results"]
    for row in rows:
        row["same_as_first"] = sum(
            a.queries == b.queries and a.best.snippet == b.best.snippet
            for a, b in zip(alone, row.pop("_results"), strict=True)
        )
    out = {
        "recipe": spec.recipe,
        "options": spec.options,
        "targets": len(targets),
        "budget": args.budget,
        "cpu": cpu_name(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
