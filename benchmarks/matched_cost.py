"""Attack success at an equal cost: every version's threshold set to flag no more of the
validation split's harmless snippets than round 0's version flags at its own.

The loop compares versions at their saved thresholds.  Those follow the recall rule, and
a retrained version may meet it only by flagging more harmless text (the demo's v0 / v1 /
v2 flag 28% / 35% / 34% of the harmless validation snippets; the loop's hold keeps a later
version from flagging fewer, not more).  A version that flags more
is harder to attack for that reason alone, so part of the loop's drop in attack success
may be cost, not robustness.  This script takes the cost out: for each version it sets
the threshold at which it flags as many harmless validation snippets as v0 does (the
midpoint between the scores ranked n0 and n0 + 1, n0 being v0's count), reruns the loop's
attacks on the loop's own eval targets against it, and reports both.  The comparison
Ziegler et al. (2022) made between rounds also held the filter's quality cost fixed.

Only the validation split sets a threshold.  The test and external figures at both
thresholds are recorded, not used.  Against v0 the attack is the loop's own (same
threshold, same seeds), so its records must equal the loop's; `same_as_loop` checks it.
`--targets external` attacks injurious external-set snippets v0 flags instead, the ones
`attack_transfer.py --targets external` attacks (measurement only); `--set FILE ...` adds
labeled sets to measure the thresholds on, and `--no-attacks` skips the attacks.

    python benchmarks/matched_cost.py --project runs/demo --out benchmarks/results/matched-cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import torch

from attack_transfer import targets_for, version_figures  # this folder's scripts
from highstakes.data.demo import load_dataset
from highstakes.data.jsonl import read_jsonl
from highstakes.data.records import Example, Label
from highstakes.data.splits import assign_splits
from highstakes.evaluation.metrics import metrics_at
from highstakes.loop.config import parse_config
from highstakes.loop.stages import build_attack, run_attack
from highstakes.models.classifier import Classifier
from lockstep import cpu_name


def labeled(examples: list[Example]) -> tuple[list[Example], np.ndarray]:
    kept = [e for e in examples if e.label in (Label.YES, Label.NO)]
    return kept, np.array([e.label is Label.YES for e in kept], dtype=int)


def matched_threshold(negatives: np.ndarray, n_flagged: int) -> float:
    """The threshold at which exactly the `n_flagged` highest of `negatives` are flagged
    (score >= threshold): midway between the scores ranked n and n + 1."""
    ranked = np.sort(negatives)[::-1]
    if n_flagged >= len(ranked):
        return float(ranked[-1])
    if n_flagged == 0:
        return float(np.nextafter(ranked[0], np.inf))
    return float((ranked[n_flagged - 1] + ranked[n_flagged]) / 2)


def operating_point(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    m = metrics_at(labels, scores, threshold)
    return {"recall": m.recall, "false_positive_rate": m.false_positive_rate}


def same_records(ours: Path, loop: Path) -> bool:
    """Whether two attack record files agree, the timing aside."""

    def strip(path: Path) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in read_jsonl(path)]

    return loop.exists() and strip(ours) == strip(loop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--project", type=Path, default=Path("runs/demo"))
    parser.add_argument("--n", type=int, default=None, help="targets (default: the loop's)")
    parser.add_argument("--targets", choices=("eval", "external"), default="eval")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="FILE",
        help="more labeled sets to give recall and false-positive rate on (no attacks)",
    )  # fmt: skip
    parser.add_argument("--no-attacks", action="store_true", help="the thresholds' figures only")
    args = parser.parse_args()
    config = parse_config(json.loads((args.project / "config.json").read_text()))
    splits = assign_splits(load_dataset(config.data))
    sets = {"valid": labeled(splits["valid"]), "test": labeled(splits["test"])}
    if config.external is not None:
        sets["external"] = labeled(load_dataset(config.external))
    for path in map(Path, args.set):
        sets[path.stem] = labeled(load_dataset(path))
    rounds = sorted(
        int(p.name.split("-")[1]) for p in args.project.glob("round-*") if (p / "model").exists()
    )
    by_id = {e.id: e for part in splits.values() for e in part}
    ids = json.loads((args.project / "eval-targets.json").read_text())
    records_dir = args.out.parent / f"{args.out.stem}-records"
    if not args.no_attacks:
        records_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"project": str(args.project), "seed": config.seed, "cpu": cpu_name(),
                           "threads": torch.get_num_threads(), "target_set": args.targets,
                           "versions": {}}  # fmt: skip
    pool: list[Example] = []
    n0 = None
    for r in rounds:
        rdir = args.project / f"round-{r}"
        clf = Classifier.from_pretrained(rdir / "model")
        scores = {name: clf.score([e.snippet for e in ex]) for name, (ex, _) in sets.items()}
        valid_labels = sets["valid"][1]
        negatives = scores["valid"][valid_labels == 0]
        saved = clf.threshold
        if n0 is None:  # v0: its own count of flagged harmless validation snippets
            n0 = int((negatives >= saved).sum())
        matched = saved if r == 0 else matched_threshold(negatives, n0)
        version: dict[str, Any] = {"saved_threshold": saved, "matched_threshold": matched,
                                   "harmless_valid_flagged": n0, "attacks": {}}  # fmt: skip
        for rule, t in (("saved", saved), ("matched", matched)):
            version[rule] = {
                name: operating_point(labels, scores[name], t) for name, (_, labels) in sets.items()
            }
        clf.threshold = matched
        for name, spec in (("eval", config.attack), ("heldout", config.heldout)):
            if spec is None or args.no_attacks:
                continue
            n = args.n or spec.eval_targets
            if args.targets == "external":  # v0 picks them, as attack_transfer.py does
                pool = pool or targets_for(argparse.Namespace(targets="external", n=None),
                                           config, clf)  # fmt: skip
                targets = pool[:n]
            else:
                targets = [by_id[i] for i in ids][:n]
            path = records_dir / f"{name}-r{r}.jsonl"
            path.unlink(missing_ok=True)
            t0 = time.perf_counter()
            attack = build_attack(spec, clf, {})
            records = run_attack(attack, clf, targets, spec.budget, path, f"{name}-{r}",
                                 together=spec.together)  # fmt: skip
            figures = version_figures(records, spec.recipe)
            figures["seconds"] = round(time.perf_counter() - t0, 1)
            if r == 0 and n == spec.eval_targets and args.targets == "eval":
                figures["same_as_loop"] = same_records(path, rdir / f"attack-{name}.jsonl")
            version["attacks"][f"{name}:{spec.recipe}"] = figures
            low, high = figures["success_rate_interval"]
            print(f"v{r} {name} at {matched:.4f}: {figures['succeeded']}/{figures['targets']} "
                  f"[{low:.2f}, {high:.2f}]", flush=True)  # fmt: skip
        out["versions"][f"v{r}"] = version
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
