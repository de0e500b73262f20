"""The loop itself: rounds of train -> calibrate -> evaluate -> attack -> label, each
stage run once and remembered in the project folder (see `project.py`)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from highstakes.data.io import read_examples, write_examples
from highstakes.data.records import Example, Label, Snippet
from highstakes.files import write_atomic
from highstakes.loop import report, stages, thresholds
from highstakes.loop.config import AttackConfig, LoopConfig
from highstakes.loop.head_stage import head_round
from highstakes.loop.project import Project, check_resumable, round_version, settings_of
from highstakes.models.classifier import Classifier

log = logging.getLogger(__name__)


class Loop:
    def __init__(self, config: LoopConfig, progress: stages.ProgressFn | None = None) -> None:
        from highstakes.data.demo import load_dataset
        from highstakes.data.splits import assign_splits

        self.config = config
        self.project = Project(config.project)
        self.progress = progress
        self.splits = assign_splits(load_dataset(config.data))
        self.external = load_dataset(config.external) if config.external else []
        self.by_id = {e.id: e for split in self.splits.values() for e in split}
        self.models: dict[str, Any] = {}
        settings = settings_of(config)
        check_resumable(self.project.root, settings)
        write_atomic(self.project.root / "config.json", json.dumps(settings, indent=2))

    # ---- paths and versions ------------------------------------------------------------
    def model_dir(self, round_: int) -> Path:
        return self.project.model_dir(round_)

    def version(self, round_: int) -> str:
        return round_version(round_)

    def classifier(self, round_: int) -> Classifier:
        key = f"clf-{round_}"
        if key not in self.models:
            self.models[key] = Classifier.from_pretrained(self.model_dir(round_))
        clf: Classifier = self.models[key]
        return clf

    def adversarial_so_far(self, before: int) -> list[Example]:
        out: list[Example] = []
        for r in range(before):
            path = self.project.round_dir(r) / "adversarial.jsonl"
            if path.exists():
                out += read_examples(path)
        return out

    # ---- one round -----------------------------------------------------------------------
    def stage(self, r: int, name: str, run: Any) -> dict[str, Any]:
        """`Project.stage`, announced: a log gets one line per stage run (with its time)."""

        def announced() -> dict[str, Any]:
            if self.progress:
                self.progress(f"round {r}: {name}", 0, 1)
            result: dict[str, Any] = run()
            if self.progress:
                self.progress(f"round {r}: {name}", 1, 1)
            return result

        return self.project.stage(r, name, announced)

    def run_round(self, r: int) -> dict[str, Any]:
        cfg, p = self.config, self.project
        rdir = p.round_dir(r)

        def train() -> dict[str, Any]:
            extra = self.adversarial_so_far(r)
            write_examples(rdir / "data-added.jsonl", extra)  # the round's data snapshot
            previous = self.model_dir(r - 1) if r > 0 else None
            return stages.train_version(
                cfg, r, training_set(cfg, r, self.splits["train"], extra),
                self.splits["valid"], self.model_dir(r), previous, self.progress,
            )  # fmt: skip

        trained = self.stage(r, "train", train)
        calibration = self.stage(r, "calibrate", lambda: self.calibrate(r, trained))
        evaluation = self.stage(r, "evaluate", lambda: self.evaluate(r))
        head = self.stage(r, "head", lambda: self.head(r)) if cfg.head.enabled else None
        attacks = self.stage(r, "attack", lambda: self.attack(r))
        if cfg.studio.enabled and r < cfg.rounds:
            self.stage(r, "studio", lambda: self.people(r))
        labels = self.stage(r, "label", lambda: self.label(r, attacks))
        summary = self.stage(r, "summary", lambda: self.summarize(r, attacks, labels["labels"]))
        training = {"best_epoch": trained["best_epoch"], "history": trained["history"]}
        return {
            "round": r,
            "training": training,
            "calibration": calibration,
            "evaluation": evaluation,
            **({"head": head} if head is not None else {}),
            **summary,
        }

    def calibrate(self, r: int, trained: dict[str, Any]) -> dict[str, Any]:
        """The version's threshold: the recall rule's; in later rounds with `[retrain]
        hold_flag_rate`, lowered where needed to flag as many validation snippets as
        round 0's version did (`thresholds.hold_flag_rate`)."""
        record = thresholds.recall_rule(trained, self.config.train)
        if r == 0 or not self.config.retrain.hold_flag_rate:
            return record
        baseline = self.project.done(0, "calibrate")
        if baseline is None:
            raise RuntimeError(
                f"{self.project.marker(0, 'calibrate')} is missing: round 0 "
                "must be calibrated before later rounds hold its flag rate"
            )
        return thresholds.hold_flag_rate(
            record, baseline, self.classifier(r), self.splits["valid"], self.model_dir(r),
            trained.get("valid_scores"),
        )  # fmt: skip

    def head(self, r: int) -> dict[str, Any]:
        """A head on the generator's states, trained on the round's training data (the
        adversarial examples so far once each) and measured like the classifier."""
        from highstakes.models.generator import CausalLM

        spec = self.config.head
        key = "lm" if spec.model == "embedded-smollm2" else f"lm:{spec.model}"
        if key not in self.models:  # the attacks' word proposer, when it is the same LM
            self.models[key] = CausalLM.from_pretrained(spec.model)
        train = [*self.splits["train"], *self.adversarial_so_far(r)]
        return head_round(
            self.config, self.models[key], train, self.splits["valid"], self.splits["test"],
            self.external, self.project.round_dir(r) / "head", self.progress,
        )  # fmt: skip

    def evaluate(self, r: int) -> dict[str, Any]:
        """The version on the test split and, when configured, on the external set."""
        cfg = self.config
        return stages.evaluate_version(
            self.classifier(r), self.splits["test"], cfg.seed, self.external,
            cfg.train.target_recall,
        )  # fmt: skip

    def eval_targets(self) -> list[Example]:
        """The fixed evaluation targets: injurious test snippets that the round-0 version
        flags, in a fixed pseudo-random order, chosen once and kept in the project so that
        every version and every recipe is attacked from the same snippets."""
        cfg = self.config
        wanted = max(cfg.attack.eval_targets, cfg.heldout.eval_targets if cfg.heldout else 0)
        return self.fixed_targets("eval-targets.json", self.splits["test"], wanted, "eval")

    def external_targets(self) -> list[Example]:
        """The same on the external set (`external-targets.json`): measurement only."""
        specs = [s for s in (self.config.attack, self.config.heldout) if s is not None]
        wanted = max(s.external_targets for s in specs)
        return self.fixed_targets("external-targets.json", self.external, wanted, "external")

    def fixed_targets(
        self, name: str, pool: list[Example], wanted: int, salt: str
    ) -> list[Example]:
        """Up to `wanted` injurious snippets of `pool` that v0 flags, in an order fixed by
        the seed and `salt`; chosen once, then read back from the project's `name`."""
        path = self.project.root / name
        by_id = {e.id: e for e in pool}
        if path.exists():
            return [by_id[i] for i in json.loads(path.read_text())]
        chosen = stages.flagged_targets(pool, self.classifier(0), self.config.seed, salt)
        if len(chosen) < wanted:
            log.warning("%s: only %d injurious snippets are flagged by v0 (wanted %d)",
                        name, len(chosen), wanted)  # fmt: skip
        chosen = chosen[:wanted]
        write_atomic(path, json.dumps([e.id for e in chosen]) + "\n")
        return chosen

    def attack(self, r: int) -> dict[str, Any]:
        """Every attack of the round, against this round's version: the training attack on
        train snippets (not in the last round), and the main and held-out recipes on the
        fixed evaluation targets and, with `external_targets`, on the external set's, which
        only measure."""
        cfg, clf, rdir = self.config, self.classifier(r), self.project.round_dir(r)
        runs: list[tuple[str, AttackConfig, list[Example]]] = []
        if r < cfg.rounds:
            train_targets = stages.pick_targets(
                self.splits["train"], cfg.attack.train_targets, cfg.seed, r
            )
            runs.append(("train", cfg.attack, train_targets))
        fixed = self.eval_targets()
        runs.append(("eval", cfg.attack, fixed[: cfg.attack.eval_targets]))
        if cfg.heldout is not None:
            runs.append(("heldout", cfg.heldout, fixed[: cfg.heldout.eval_targets]))
        specs = {"attack": cfg.attack, "heldout": cfg.heldout}
        external = [
            (a.run, spec)
            for a in report.EXTERNAL_ATTACKS
            if (spec := specs[a.recipe]) is not None and spec.external_targets
        ]
        apart = self.external_targets() if external else []
        runs += [(name, spec, apart[: spec.external_targets]) for name, spec in external]
        out = {}
        for name, spec, targets in runs:
            attack = stages.build_attack(spec, clf, self.models)
            path = rdir / f"attack-{name}.jsonl"
            train = name == "train"
            budget = (spec.train_budget or spec.budget) if train else spec.budget
            keep = spec.examples_per_target if train else 1
            out[name] = stages.run_attack(
                attack, clf, targets, budget, path, f"{name}-{r}", self.progress, keep,
                spec.together,
            )  # fmt: skip
        return {"runs": {name: str(rdir / f"attack-{name}.jsonl") for name in out}, "recipes": {
            name: spec.recipe for name, spec, _ in runs}}  # fmt: skip

    def people(self, r: int) -> dict[str, Any]:
        """Serve this version in the studio and wait for the people's labeled submissions
        against it; they join the round's adversarial data."""
        from highstakes.loop.people import human_examples, serve_version

        studio = self.config.studio
        model = str(self.model_dir(r).resolve())
        serve_version(studio, self.version(r), model, self.classifier(r).threshold, r)
        found = human_examples(studio, self.version(r))
        write_examples(self.project.round_dir(r) / "studio.jsonl", found)
        return {"n": len(found), "n_injurious": sum(e.label is Label.YES for e in found)}

    def records(self, attacks: dict[str, Any], name: str) -> list[dict[str, Any]]:
        from highstakes.data.jsonl import read_jsonl

        path = attacks["runs"].get(name)
        return read_jsonl(path, missing_ok=True, torn_tail_ok=True) if path else []

    def label(self, r: int, attacks: dict[str, Any]) -> dict[str, Any]:
        found = [
            (rec, snippet)
            for name in attacks["runs"]
            for rec in self.records(attacks, name)
            for snippet in stages.results_of(rec)
        ]
        labeler = self.config.label.labeler
        recipes = sorted(set(attacks["recipes"].values()))
        # the external set's targets too (the data set's example wins for a shared id)
        sources = {**{e.id: e for e in self.external}, **self.by_id}
        labels = label_found(labeler, r, found, sources, self.config, self.version(r), recipes)
        return {"labeler": labeler, "labels": labels, "n": len(labels)}

    def summarize(self, r: int, attacks: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
        rdir, version, labeler = (
            self.project.round_dir(r),
            self.version(r),
            self.config.label.labeler,
        )
        recipes = attacks["recipes"]
        records = {name: self.records(attacks, name) for name in ("train", "eval", "heldout")}
        found = {
            name: stages.adversarial_examples(
                records[name], labels, self.by_id, recipes.get(name, ""), version, r, labeler, name
            )
            for name in ("train", "eval", "heldout")
        }
        added = list(found["train"])
        if self.config.retrain.matched_negatives and found["train"]:
            added += self.matched_negatives(r, found["train"])
        studio = rdir / "studio.jsonl"
        if studio.exists():  # people's submissions, labeled in the studio
            added += read_examples(studio)
        write_examples(rdir / "adversarial.jsonl", added)
        # aimed at this version: trained on (the training attack) and evaluation only
        write_examples(rdir / "aimed.jsonl", [*found["train"], *found["eval"], *found["heldout"]])
        external = {  # on the external set, measurement only: never trained on or aimed
            a.key: stages.attack_summary(self.records(attacks, a.run), labels)
            for a in report.EXTERNAL_ATTACKS
            if a.run in attacks["runs"]
        }
        return external | {
            "attack": stages.attack_summary(records["eval"], labels),
            "heldout_attack": stages.attack_summary(records["heldout"], labels),
            "n_adversarial_added": sum(e.label is Label.YES for e in added),
            "n_negatives_added": sum(e.label is Label.NO for e in added),
        }

    def matched_negatives(self, r: int, positives: list[Example]) -> list[Example]:
        """Harmless training snippets edited like the round's adversarial examples."""
        cfg = self.config
        attack = stages.build_attack(cfg.attack, self.classifier(r), self.models)
        if not getattr(attack, "preserves_label", False):
            raise ValueError(
                f"[retrain] matched_negatives needs a recipe that keeps the label by "
                f"construction; {cfg.attack.recipe!r} does not"
            )
        return stages.matched_negatives(
            positives, self.splits["train"], attack.transformation,
            cfg.retrain.matched_negatives, r, self.version(r), cfg.label.labeler, cfg.seed,
        )  # fmt: skip

    def run(self) -> list[dict[str, Any]]:
        t0 = time.perf_counter()
        rounds = [self.run_round(r) for r in range(self.config.rounds + 1)]
        self.link_latest()
        log.info("loop finished in %.0f s", time.perf_counter() - t0)
        return rounds

    def link_latest(self) -> None:
        """`<project>/classifier` points at the last version, for the studio and `score`."""
        link = self.project.root / "classifier"
        target = self.model_dir(self.config.rounds).relative_to(self.project.root)
        if link.is_symlink() or link.exists():
            if link.is_symlink() and Path(link.readlink()) == target:
                return
            link.unlink()
        link.symlink_to(target, target_is_directory=True)


def training_set(
    config: LoopConfig, r: int, train: Sequence[Example], added: Sequence[Example]
) -> list[Example]:
    """What round `r` trains on: the train split (in a warm-start round after the first,
    the `replay` share drawn for that round) and the adversarial examples so far, each
    `adversarial_repeat` times."""
    if r > 0 and config.retrain.mode == "warm-start":
        train = stages.replay(train, config.retrain.replay, config.seed, r)
    return [*train, *list(added) * max(1, config.retrain.adversarial_repeat)]


def label_found(
    labeler: str,
    r: int,
    found: Sequence[tuple[dict[str, Any], Snippet]],
    by_id: dict[str, Example],
    config: LoopConfig,
    version: str,
    recipes: Sequence[str] = (),
) -> dict[str, str]:
    """Labels for the attack results, by the configured labeler (`recipes`: those that
    made them; `kept` refuses any that may change meaning)."""
    if labeler == "kept":  # the attacked snippet's own label, kept by the recipe's construction
        from highstakes.attacks.recipes import require_label_preserving

        for recipe in recipes:
            require_label_preserving(recipe, labeler)
        return {s.key(): by_id[rec["target_id"]].label.value for rec, s in found}
    snippets = list(dict.fromkeys(s for _, s in found))
    if labeler.startswith("reference:"):
        from highstakes.labelers import ReferenceClassifierLabeler

        ref = ReferenceClassifierLabeler(Classifier.from_pretrained(labeler.split(":", 1)[1]))
        answers = ref.label(snippets)
    elif labeler.startswith("llm-judge:"):
        from highstakes.labelers import LLMJudgeLabeler

        url, _, model = labeler.split(":", 1)[1].partition("#")
        answers = LLMJudgeLabeler(url, model or "default").label(snippets)
    elif labeler == "studio":
        from highstakes.loop.people import labels_from_studio

        return labels_from_studio(config.studio, snippets, r)
    else:
        raise ValueError(f"unknown labeler {labeler!r}: kept, reference:DIR, llm-judge:URL, studio")
    return {s.key(): a.value for s, a in zip(snippets, answers, strict=True)}
