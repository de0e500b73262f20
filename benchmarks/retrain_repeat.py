"""Does repeating the adversarial examples in a retraining pass cost validation false
positives?  Round 1 retrained from a finished loop's v0, validation figures only.

The shipped demo's v1 flags 34% of the harmless validation snippets at its saved
threshold where v0 flags 28%, and its external false-positive rate rises with it.  Each
adversarial example (and its matched negative) goes four times into the retraining pass
(`[retrain] adversarial_repeat = 4`), so the repeat is a suspect.  This script retrains
round 1 from the project's own round-0 model and adversarial examples, as the loop does,
with the repeat changed (`repeat1`, `repeat2`, `loop`: the loop's own, or `none`: the
replay without any adversarial example) and, with `--seeds`, other loop seeds (the
replay's draw from the training split, the data order and the dropout of the pass).  It
records each version's validation figures at the kept epoch: AUROC, the standardized
partial AUROC over recall >= 0.9, and the threshold the recall rule sets with the
false-positive rate there.  Only the validation split is read.

    python benchmarks/retrain_repeat.py --project runs/demo \
        --out benchmarks/results/retrain-repeat-seed0.json
    python benchmarks/retrain_repeat.py --project runs/demo-seed2 --config seed2.toml --out ...

Each pass takes about a minute on two CPU cores.  The round-0 model and adversarial
examples are read from the project; nothing in it is written (the models go to a
temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from highstakes.data.demo import load_dataset
from highstakes.data.io import read_examples
from highstakes.data.records import Example
from highstakes.data.splits import assign_splits
from highstakes.loop import stages, thresholds
from highstakes.loop.config import LoopConfig, read_config
from highstakes.loop.rounds import training_set

FIGURES = ("valid_auroc", "valid_high_recall_auroc", "valid_threshold", "valid_false_positive_rate")


def retrain_once(
    config: LoopConfig,
    project: Path,
    splits: dict[str, list[Example]],
    variant: str,
    seed: int,
    out: Path,
) -> dict[str, Any]:
    """Round 1 from the project's v0 with the variant's repeat, as a loop of this seed
    would train it."""
    added = read_examples(project / "round-0" / "adversarial.jsonl")
    retrain = config.retrain
    if variant == "none":
        added = []
    elif variant.startswith("repeat"):
        retrain = replace(retrain, adversarial_repeat=int(variant.removeprefix("repeat")))
    config = replace(config, seed=seed, retrain=retrain, train=replace(config.train, seed=seed))
    started = time.perf_counter()
    trained = stages.train_version(
        config, 1, training_set(config, 1, splits["train"], added), splits["valid"], out,
        project / "round-0" / "model", None,
    )  # fmt: skip
    kept = trained["history"][trained["best_epoch"] - 1]
    return {
        "variant": variant,
        "adversarial_repeat": retrain.adversarial_repeat if added else 0,
        "n_adversarial": len(added),
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
        **{name: kept[name] for name in FIGURES},
        "rule": thresholds.recall_rule(trained, config.train)["rule"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="A finished loop's folder.")
    parser.add_argument("--config", help="Its loop config (default: the demo's).")
    parser.add_argument("--variants", nargs="+", default=["loop", "repeat2", "none"])
    parser.add_argument(
        "--seeds", nargs="+", type=int, help="Loop seeds for the pass (default: the loop's)."
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = read_config(args.config or "demo")
    v0 = json.loads((args.project / "round-0" / "train.done.json").read_text())
    splits = assign_splits(load_dataset(config.data))
    runs: list[dict[str, Any]] = []
    for seed in args.seeds or [config.seed]:
        for variant in args.variants:
            with tempfile.TemporaryDirectory() as folder:
                runs.append(retrain_once(config, args.project, splits, variant, seed, Path(folder)))
            print(json.dumps(runs[-1]), flush=True)
    kept = v0["history"][v0["best_epoch"] - 1]
    result = {
        "project": str(args.project),
        "loop_repeat": config.retrain.adversarial_repeat,
        "v0": {name: kept[name] for name in FIGURES},
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
