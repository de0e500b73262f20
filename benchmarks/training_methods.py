"""Plain adversarial training, SiFT and latent adversarial training at equal wall time.

usage: python benchmarks/training_methods.py --base runs/demo/round-0/model
           --out benchmarks/results/training-methods.json [--project runs/demo]
           [--work runs/training-methods] [--seconds S] [--targets N]
           [--methods plain sift lat] [--order-seed K]

From a trained version (`--base`, the demo's round-0 model) each method retrains the way
the loop's next round does (`stages.train_version`: a warm-start pass with [retrain]'s
settings on the train split plus the adversarial examples that round trains on, each
`adversarial_repeat` times, read from the project):
  plain  the loop's adversarial training as configured (SiFT and LAT off)
  sift   the same plus SiFT ([train] sift = true)
  lat    the same plus latent adversarial training ([retrain] lat = true)
Every method gets the same wall-time budget for its training steps: a short trial
measures its seconds per training example, and it then trains one pass over as many
examples as fit into the budget (the retraining set cycled in a seeded order, so the
learning-rate schedule ends as in the loop).  When the steps of that pass miss the budget
by more than 10%, the pass is redone once with the number of examples its own step time
implies (the trial overestimated LAT's cost threefold).  The default budget is what plain needs
for one pass: plain is then the loop's retraining recipe (its data and settings, in this
script's order, so not the loop's model to the byte), and the others get its time.
`--order-seed` feeds the same examples in another order (a new `--work` for each): how
far the order alone moves a method's figures.

Each version, and the base for reference, is measured on: the held-out recipe's attack
success on the loop's fixed evaluation targets (the project's eval-targets.json, the
first `--targets`; labeled as the loop labels; exact intervals), and AUROC (bootstrap
interval), recall and false-positive rate (exact intervals) at its saved threshold on
the external set and the in-distribution test split.  That threshold is the trainer's
recall rule; the loop's `[retrain] hold_flag_rate` floor is not applied here (on the
demo's round 1 it does not bind: v1 flags more validation snippets than v0).
Differences to plain and to the base come with 95% paired-bootstrap intervals (the same
targets and snippets resampled for both); one counts as a change only when its interval
leaves out zero.

Resumable: each method's model, attack log and result (`--work`) are kept as they
finish, and a rerun skips what is done; `--out` is rewritten after every method.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np

from highstakes.data.demo import load_dataset
from highstakes.data.io import read_examples
from highstakes.data.records import Example, Label
from highstakes.data.splits import assign_splits
from highstakes.evaluation.metrics import held_out_metrics
from highstakes.loop import stages
from highstakes.loop.config import LoopConfig, parse_config
from highstakes.loop.rounds import label_found, training_set
from highstakes.models.classifier import Classifier
from highstakes.training.trainer import labeled
from paired import compare  # this folder's scripts: paired bootstrap comparisons

METHODS = ("plain", "sift", "lat")
TRIAL_BATCHES = 8  # batches timed per method to measure its seconds per example
BUDGET_TOLERANCE = 0.1  # a training run whose steps miss the budget by more is redone once
SALT = "heldout-benchmark"  # the same sampling draws in every version's attack


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def project_config(project: Path) -> LoopConfig:
    """The loop configuration the project ran with (its config.json)."""
    values = json.loads((project / "config.json").read_text())
    return parse_config({k: v for k, v in values.items() if v is not None}, "config.json")


def method_config(config: LoopConfig, method: str) -> LoopConfig:
    train = replace(config.train, sift=method == "sift", lat=False)
    return replace(config, train=train, retrain=replace(config.retrain, lat=method == "lat"))


def retraining_set(config: LoopConfig, project: Path, round_: int, train: list[Example]) -> list:
    """What the loop's round `round_` trains on (`rounds.training_set`), with the
    adversarial data of the rounds before it (its data-added.jsonl snapshot once the loop
    got there)."""
    snapshot = project / f"round-{round_}" / "data-added.jsonl"
    if snapshot.exists():
        added = read_examples(snapshot)
    else:
        paths = [project / f"round-{r}" / "adversarial.jsonl" for r in range(round_)]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise SystemExit(f"no adversarial data yet ({', '.join(missing)}): let the loop run")
        added = [e for p in paths for e in read_examples(p)]
    return training_set(config, round_, train, added)


def cycled(examples: list[Example], n: int, seed: int) -> list[Example]:
    """`n` examples: whole passes over `examples`, each in a new seeded order, then part
    of one more."""
    rng, out = np.random.default_rng(seed), list[Example]()
    while len(out) < n:
        out += [examples[i] for i in rng.permutation(len(examples))]
    return out[:n]


def timed_train(
    config: LoopConfig, round_: int, examples: list, valid: list, out: Path, base: Path
) -> dict[str, Any]:
    """`stages.train_version`, with the time of every training step."""
    stamps: list[float] = []

    def progress(phase: str, done: int, total: int) -> None:
        if phase.startswith("epoch") and ":" not in phase:  # one call per optimizer step
            stamps.append(time.perf_counter())

    t0 = time.perf_counter()
    trained = stages.train_version(config, round_, examples, valid, out, base, progress)
    return {**trained, "wall_seconds": time.perf_counter() - t0, "stamps": stamps}


def seconds_per_example(
    config: LoopConfig, round_: int, examples: list, valid: list, work: Path, base: Path
) -> float:
    """Training time per example, from the steps after the first of a short trial."""
    batch = config.train.batch_size
    sample = cycled(examples, TRIAL_BATCHES * batch, seed=1)
    yes = [e for e in valid if e.label is Label.YES][:32]
    small_valid = [*yes, *[e for e in valid if e.label is Label.NO][:32]]
    trial = timed_train(config, round_, sample, small_valid, work / "trial", base)
    shutil.rmtree(work / "trial", ignore_errors=True)
    stamps = trial["stamps"]
    return (stamps[-1] - stamps[0]) / ((len(stamps) - 1) * batch)


def eval_targets(project: Path, config: LoopConfig, test: list, base: Classifier) -> list:
    """The loop's fixed evaluation targets (chosen as `Loop.eval_targets` chooses them)."""
    path = project / "eval-targets.json"
    by_id = {e.id: e for e in test}
    if path.exists():
        return [by_id[i] for i in json.loads(path.read_text())]
    ordered = stages.pick_targets(test, len(test), config.seed, "eval")
    scores = base.score([e.snippet for e in ordered])
    return [e for e, s in zip(ordered, scores, strict=True) if s >= base.threshold]


def heldout_attack(
    config: LoopConfig, clf: Classifier, targets: list, by_id: dict, work: Path, models: dict
) -> dict[str, Any]:
    """The held-out recipe against `clf` on `targets`, labeled as the loop labels."""
    spec = config.heldout
    assert spec is not None
    attack = stages.build_attack(spec, clf, models)
    path = work / "attack-heldout.jsonl"
    records = stages.run_attack(attack, clf, targets, spec.budget, path, SALT, _bar, 1)
    found = [(r, s) for r in records for s in stages.results_of(r)]
    labels = label_found(
        config.label.labeler, 1, found, by_id, config, f"bench-{work.name}", [spec.recipe]
    )

    summary = stages.attack_summary(records, labels)
    outcomes = {r["target_id"]: int(stages.succeeded(r, labels)) for r in records}
    return {**summary, "outcomes": outcomes}


def _bar(phase: str, done: int, total: int) -> None:
    if done == total or done % 20 == 0:
        log(f"{phase}: {done}/{total}")


def measure(
    clf: Classifier, sets: dict[str, list], attack: dict[str, Any], seed: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"threshold": clf.threshold, "heldout_attack": attack}
    for name, examples in sets.items():
        kept, labels = labeled(examples)
        scores = clf.score([e.snippet for e in kept])
        figures = held_out_metrics(labels, scores, clf.threshold, seed=seed)
        out[name] = {**figures, "scores": [round(float(s), 6) for s in scores]}
    return out


class Bench:
    """One comparison: the project's data and settings, and where results go."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.base, self.work = args, args.base, args.work
        self.round = args.round if args.round is not None else _round_after(args.base)
        self.config = project_config(args.project)
        self.order_seed = self.config.seed if args.order_seed is None else args.order_seed
        if self.config.heldout is None:
            raise SystemExit("the project has no [heldout] recipe to measure with")
        splits = assign_splits(load_dataset(self.config.data))
        self.valid = splits["valid"]
        external = load_dataset(self.config.external) if self.config.external else []
        self.sets = {"external": external, "test": splits["test"]}
        self.labels = {k: labeled(v)[1] for k, v in self.sets.items()}
        self.by_id = {e.id: e for split in splits.values() for e in split}
        self.data = retraining_set(self.config, args.project, self.round, splits["train"])
        self.base_clf = Classifier.from_pretrained(args.base)
        targets = eval_targets(args.project, self.config, splits["test"], self.base_clf)
        self.targets = targets[: args.targets or self.config.heldout.eval_targets]
        self.models: dict[str, Any] = {}  # the attack's sentence encoder and LM, loaded once

    def calibration(self) -> dict[str, float]:
        """Seconds per training example of each method, measured once and kept."""
        path = self.work / "calibration.json"
        done = json.loads(path.read_text()) if path.exists() else {}
        for method in (m for m in METHODS if m in self.args.methods and m not in done):
            log(f"{method}: timing {TRIAL_BATCHES} batches")
            cfg = method_config(self.config, method)
            done[method] = seconds_per_example(
                cfg, self.round, self.data, self.valid, self.work / method, self.base
            )
            path.write_text(json.dumps(done, indent=2) + "\n")
        return {m: float(v) for m, v in done.items()}

    def retrain(self, method: str, seconds: float, per_example: float) -> dict[str, Any]:
        path = self.work / method / "training.json"
        if path.exists():
            return dict(json.loads(path.read_text()))
        batch = self.config.train.batch_size
        n = max(batch, int(seconds / per_example) // batch * batch)
        attempts: list[dict[str, Any]] = []
        while True:
            log(f"{method}: training on {n} examples ({n / len(self.data):.2f} passes), "
                f"budget {seconds:.0f} s")  # fmt: skip
            load = os.getloadavg()[0]
            trained = timed_train(
                method_config(self.config, method), self.round,
                cycled(self.data, n, self.order_seed), self.valid,
                self.work / method / "model", self.base,
            )  # fmt: skip
            step_seconds = _step_seconds(trained.pop("stamps"))
            attempts.append({"n_examples": n, "step_seconds": step_seconds})
            # A short trial can misjudge a method's speed (LAT's first batches are slow), so
            # a run whose steps missed the budget by more than BUDGET_TOLERANCE is redone
            # once with the example count its own step time implies.
            miss = step_seconds / seconds - 1
            if len(attempts) > 1 or abs(miss) <= BUDGET_TOLERANCE:
                break
            n = max(batch, round(n * seconds / step_seconds / batch) * batch)
            log(f"{method}: steps took {step_seconds:.0f} s against {seconds:.0f} s; redoing")
        record = {
            "n_examples": n,
            "passes": n / len(self.data),
            "seconds_per_example_trial": per_example,
            "step_seconds": step_seconds,
            "wall_seconds": trained["wall_seconds"],
            "attempts": attempts,
            "load_average": [load, os.getloadavg()[0]],  # 1-minute, before and after
            "history": trained["history"],
        }
        path.write_text(json.dumps(record, indent=2) + "\n")
        return record

    def result(self, method: str, seconds: float, per_example: dict[str, float]) -> dict:
        path = self.work / method / "result.json"
        if path.exists():
            return dict(json.loads(path.read_text()))
        (self.work / method).mkdir(parents=True, exist_ok=True)
        training = None
        clf = self.base_clf
        if method != "base":
            training = self.retrain(method, seconds, per_example[method])
            clf = Classifier.from_pretrained(self.work / method / "model")
        log(f"{method}: held-out attack on {len(self.targets)} targets")
        attack = heldout_attack(self.config, clf, self.targets, self.by_id, self.work / method,
                                self.models)  # fmt: skip
        result = {"method": method, "training": training,
                  **measure(clf, self.sets, attack, self.config.seed)}  # fmt: skip
        path.write_text(json.dumps(result, indent=2) + "\n")
        return result


def _step_seconds(stamps: list[float]) -> float:
    """Seconds spent in training steps: from the first step's end to the last's, plus one
    average step for the first."""
    if len(stamps) < 2:
        return float("nan")
    return (stamps[-1] - stamps[0]) * len(stamps) / (len(stamps) - 1)


def _round_after(base: Path) -> int:
    name = base.resolve().parent.name  # runs/demo/round-0/model -> round-0
    if not name.startswith("round-"):
        raise SystemExit(f"pass --round: {base} is not a loop version (round-K/model)")
    return int(name.split("-")[1]) + 1


def _cell(figures: dict[str, Any], key: str) -> str:
    low, high = figures[f"{key}_interval"]
    return f"{figures[key]:.3f} [{low:.3f}, {high:.3f}]"


def table(results: dict[str, dict[str, Any]]) -> str:
    """The comparison as a Markdown table."""
    head = (
        "| method | training wall s | examples (passes) | held-out success | external AUROC "
        "| external recall | external FPR | test AUROC |\n| --- | --- | --- | --- | --- | --- "
        "| --- | --- |\n"
    )
    rows = []
    for method, r in results.items():
        t, a = r["training"], r["heldout_attack"]
        low, high = a["success_rate_interval"]
        rows.append(" | ".join([
            f"| {method}",
            f"{t['wall_seconds']:.0f} ({t['step_seconds']:.0f} in steps)" if t else "-",
            f"{t['n_examples']} ({t['passes']:.2f})" if t else "-",
            f"{a['succeeded']}/{a['targets']} = {a['success_rate']:.3f} [{low:.3f}, {high:.3f}]",
            _cell(r["external"], "auroc"), _cell(r["external"], "recall"),
            _cell(r["external"], "false_positive_rate"), _cell(r["test"], "auroc") + " |",
        ]))  # fmt: skip
    return head + "\n".join(rows) + "\n"


def summarize(bench: Bench, results: dict[str, dict], budget: float, calib: dict) -> dict:
    pairs = [(m, "plain") for m in ("sift", "lat")] + [(m, "base") for m in METHODS]
    comparisons = {
        f"{a} - {b}": compare(results[a], results[b], bench.labels)
        for a, b in pairs
        if a in results and b in results
    }
    slim = {  # the per-snippet scores stay in each method's result.json
        m: {**r, **{k: {x: v for x, v in r[k].items() if x != "scores"} for k in bench.sets}}
        for m, r in results.items()
    }
    return {
        "base": str(bench.base),
        "round": bench.round,
        "seconds_budget": budget,
        "targets": len(bench.targets),
        "heldout": asdict(bench.config.heldout) if bench.config.heldout else None,
        "lat_config": asdict(bench.config.train.lat_config),
        "n_retraining_set": len(bench.data),
        "seconds_per_example": calib,
        "results": slim,
        "comparisons": comparisons,
        "table": table(results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the version to retrain")
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--project", type=Path, default=Path("runs/demo"))
    parser.add_argument("--work", type=Path, default=Path("runs/training-methods"))
    parser.add_argument("--round", type=int, help="the round whose data to train on (base + 1)")
    parser.add_argument("--seconds", type=float, help="training budget per method "
                        "(default: plain's time for one pass)")  # fmt: skip
    parser.add_argument("--targets", type=int, help="held-out targets (default: the loop's)")
    parser.add_argument("--order-seed", type=int, help="seed of the order the retraining "
                        "examples are fed in (default: the loop's seed)")  # fmt: skip
    parser.add_argument("--methods", nargs="+", default=["base", *METHODS])
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args)
    calib = bench.calibration()
    budget = args.seconds or calib["plain"] * len(bench.data)
    log(f"budget {budget:.0f} s per method; seconds per example {calib}")
    results: dict[str, dict[str, Any]] = {}
    for method in args.methods:
        results[method] = bench.result(method, budget, calib)
        summary = summarize(bench, results, budget, calib)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(summary["table"])
    for name, figures in summary["comparisons"].items():
        changed = {
            k: v["verdict"] for k, v in figures.items() if v["verdict"] != "no clear difference"
        }
        print(f"{name}: {changed or 'no clear difference on any figure'}")


if __name__ == "__main__":
    main()
