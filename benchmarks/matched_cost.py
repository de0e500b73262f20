"""Attack success at an equal cost: every version's threshold set to flag no more of the
validation split's harmless snippets than round 0's version flags at its own.

The loop compares versions at their saved thresholds.  Those follow the recall rule, and
a retrained version may meet it only by flagging more harmless text (the demo's v0 / v1 /
v2 flag 28% / 35% / 34% of the harmless validation snippets; the loop's hold keeps a later
version from flagging fewer, not more).  A version that flags more is harder to attack for
that reason alone, so part of the loop's drop in attack success may be cost, not
robustness.  This script takes the cost out: for each version it sets
the threshold at which it flags as many harmless validation snippets as v0 does (the
midpoint between the scores ranked n0 and n0 + 1, n0 being v0's count), reruns the loop's
attacks on the loop's own eval targets against it, and reports both.  The comparison
Ziegler et al. (2022) made between rounds also held the filter's quality cost fixed.

Only the validation split sets a threshold.  The test and external figures at both
thresholds are recorded, not used.  Against v0 the attack is the loop's own (same
threshold, same seeds), so its records must equal the loop's; `same_as_loop` checks it.
`--targets external` attacks injurious external-set snippets v0 flags instead, the ones
`attack_transfer.py --targets external` attacks (measurement only); `--set FILE ...` adds
labeled sets to measure the thresholds on, and `--no-attacks` skips the attacks.  Each
attack's figures also split its successes by how surely v0 flagged the target
(`by_v0_score`: v0's score under 0.5, or at least 0.5).

    python benchmarks/matched_cost.py --project runs/demo --out benchmarks/results/matched-cost.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import torch

from attack_transfer import targets_for, version_figures  # this folder's scripts
from highstakes.data.demo import load_dataset
from highstakes.data.jsonl import read_jsonl
from highstakes.data.records import Example
from highstakes.data.splits import assign_splits
from highstakes.evaluation.metrics import metrics_at
from highstakes.loop.config import LoopConfig, parse_config
from highstakes.loop.project import Project
from highstakes.loop.stages import build_attack, run_attack
from highstakes.models.classifier import Classifier
from highstakes.training.trainer import labeled
from lockstep import cpu_name


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


def score_bands(
    records: list[dict[str, Any]], v0_scores: dict[str, float], cut: float = 0.5
) -> dict[str, list[int]]:
    """Successes and targets among the targets v0 scores under `cut` and at or over it: a
    target v0 barely flags may fall to a small edit whatever the rounds teach."""
    out = {f"under_{cut}": [0, 0], f"at_least_{cut}": [0, 0]}
    for rec in records:
        band = out[f"under_{cut}" if v0_scores[rec["target_id"]] < cut else f"at_least_{cut}"]
        band[0] += int(not rec["flagged"] or bool(rec["found"]))
        band[1] += 1
    return out


def same_records(ours: Path, loop: Path) -> bool:
    """Whether two attack record files agree, the timing aside."""

    def strip(path: Path) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in read_jsonl(path)]

    return loop.exists() and strip(ours) == strip(loop)


def arguments() -> argparse.Namespace:
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
    parser.add_argument(
        "--reuse-records", action="store_true",
        help="keep the records an earlier run of the same command left beside FILE, and "
        "attack only the targets they lack (a run goes on where it stopped)",
    )  # fmt: skip
    return parser.parse_args()


class Attacks:
    """The loop's eval and held-out attacks, against one version after another, on the
    same targets (the loop's eval targets, or external ones v0 flags)."""

    def __init__(self, args: argparse.Namespace, config: LoopConfig, by_id: dict[str, Example]):
        self.args, self.config, self.by_id = args, config, by_id
        self.records_dir = args.out.parent / f"{args.out.stem}-records"
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self.pool: list[Example] = []
        self.v0_scores: dict[str, dict[str, float]] = {}  # per attack: v0's score of each target

    def targets(self, n: int, clf: Classifier) -> list[Example]:
        if self.args.targets == "external":  # v0 picks them, as attack_transfer.py does
            namespace = argparse.Namespace(targets="external", n=None)
            self.pool = self.pool or targets_for(namespace, self.config, clf)
            return self.pool[:n]
        ids = json.loads((self.args.project / "eval-targets.json").read_text())
        return [self.by_id[i] for i in ids][:n]

    def run(self, r: int, clf: Classifier) -> dict[str, Any]:
        """Each attack against version `r` at `clf.threshold`: its figures by name."""
        out = {}
        for name, spec in (("eval", self.config.attack), ("heldout", self.config.heldout)):
            if spec is None:
                continue
            n = self.args.n or spec.eval_targets
            path = self.records_dir / f"{name}-r{r}.jsonl"
            if not self.args.reuse_records:
                path.unlink(missing_ok=True)
            attack, targets = build_attack(spec, clf, {}), self.targets(n, clf)
            records = run_attack(attack, clf, targets, spec.budget, path, f"{name}-{r}",
                                 together=spec.together)  # fmt: skip
            if r == 0:
                self.v0_scores[name] = {x["target_id"]: x["original_score"] for x in records}
            figures = version_figures(records, spec.recipe)
            figures["seconds"] = round(sum(x["seconds"] for x in records), 1)
            figures["by_v0_score"] = score_bands(records, self.v0_scores[name])
            if r == 0 and n == spec.eval_targets and self.args.targets == "eval":
                loop = self.args.project / f"round-{r}" / f"attack-{name}.jsonl"
                figures["same_as_loop"] = same_records(path, loop)
            out[f"{name}:{spec.recipe}"] = figures
            low, high = figures["success_rate_interval"]
            print(f"v{r} {name} at {clf.threshold:.4f}: {figures['succeeded']}/"
                  f"{figures['targets']} [{low:.2f}, {high:.2f}]", flush=True)  # fmt: skip
        return out


def main() -> None:
    args = arguments()
    config = parse_config(json.loads((args.project / "config.json").read_text()))
    splits = assign_splits(load_dataset(config.data))
    sets = {"valid": labeled(splits["valid"]), "test": labeled(splits["test"])}
    if config.external is not None:
        sets["external"] = labeled(load_dataset(config.external))
    for path in map(Path, args.set):
        sets[path.stem] = labeled(load_dataset(path))
    folder = Project(args.project)
    rounds = [r for r in folder.rounds() if folder.model_dir(r).exists()]
    by_id = {e.id: e for part in splits.values() for e in part}
    attacks = None if args.no_attacks else Attacks(args, config, by_id)
    out: dict[str, Any] = {"project": str(args.project), "seed": config.seed, "cpu": cpu_name(),
                           "threads": torch.get_num_threads(), "target_set": args.targets,
                           "versions": {}}  # fmt: skip
    n0 = None
    for r in rounds:
        clf = Classifier.from_pretrained(args.project / f"round-{r}" / "model")
        scores = {name: clf.score([e.snippet for e in ex]) for name, (ex, _) in sets.items()}
        negatives = scores["valid"][sets["valid"][1] == 0]
        saved = clf.threshold
        if n0 is None:  # v0: its own count of flagged harmless validation snippets
            n0 = int((negatives >= saved).sum())
        matched = saved if r == 0 else matched_threshold(negatives, n0)
        version: dict[str, Any] = {"saved_threshold": saved, "matched_threshold": matched,
                                   "harmless_valid_flagged": n0}  # fmt: skip
        for rule, t in (("saved", saved), ("matched", matched)):
            version[rule] = {
                name: operating_point(labels, scores[name], t) for name, (_, labels) in sets.items()
            }
        clf.threshold = matched
        version["attacks"] = attacks.run(r, clf) if attacks else {}
        out["versions"][f"v{r}"] = version
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
