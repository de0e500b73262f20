"""What each stage of a round does.  Models are passed in; nothing here knows about
rounds or markers (see `rounds.py`)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from highstakes.data.jsonl import read_jsonl
from highstakes.data.records import Example, Label, Provenance, Snippet, Source
from highstakes.evaluation.metrics import external_recall_warning, held_out_metrics
from highstakes.evaluation.reliability import clopper_pearson
from highstakes.evaluation.robustness import AttackCost, attack_cost
from highstakes.files import write_atomic
from highstakes.loop.config import AttackConfig, LoopConfig
from highstakes.loop.project import append_lines
from highstakes.models.classifier import Classifier
from highstakes.training.config import TrainConfig
from highstakes.training.trainer import labeled, train

ProgressFn = Callable[[str, int, int], None]


def stable_int(*parts: object) -> int:
    """A seed from strings: the same on every run and machine (unlike hash())."""
    return int(hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def fixed_order(examples: Sequence[Example], *salt: object) -> list[Example]:
    """`examples` in a pseudo-random order fixed by their ids and `salt`."""
    return sorted(examples, key=lambda e: stable_int(e.id, *salt))


def pick_targets(examples: Sequence[Example], n: int, *salt: object) -> list[Example]:
    """`n` injurious examples in a fixed pseudo-random order."""
    return fixed_order([e for e in examples if e.label is Label.YES], *salt)[:n]


def flagged_targets(pool: Sequence[Example], clf: Classifier, *salt: object) -> list[Example]:
    """The injurious examples of `pool` that `clf` flags, in a fixed pseudo-random order:
    targets an attack on that version has something to turn."""
    ordered = pick_targets(pool, len(pool), *salt)
    scores = clf.score([e.snippet for e in ordered])
    return [e for e, s in zip(ordered, scores, strict=True) if s >= clf.threshold]


def replay(examples: Sequence[Example], share: float, *salt: object) -> list[Example]:
    """A `share` of `examples` in a fixed pseudo-random choice per salt (all when 1), in
    their order; the same on a rerun, so a resumed round trains on the same data."""
    if share >= 1:
        return list(examples)
    kept = {e.id for e in fixed_order(examples, *salt)[: round(share * len(examples))]}
    return [e for e in examples if e.id in kept]


def train_version(
    config: LoopConfig,
    round_: int,
    train_examples: Sequence[Example],
    valid_examples: Sequence[Example],
    out: Path,
    previous: Path | None,
    progress: ProgressFn | None,
) -> dict[str, Any]:
    cfg: TrainConfig = config.train
    if previous is not None and config.retrain.mode == "warm-start":
        cfg = replace(
            cfg,
            model=str(previous),
            epochs=config.retrain.epochs,
            learning_rate=config.retrain.learning_rate,
            weight_average=config.retrain.weight_average,
            weight_average_debias=False,  # from the previous version: its anchor
            seed=cfg.seed + round_,
        )
    if previous is not None and config.retrain.lat is not None:  # every later round
        cfg = replace(cfg, lat=config.retrain.lat)
    result = train(cfg, train_examples, valid_examples, out, resume=True, progress=progress)
    return {
        "best_epoch": result.best_epoch,
        "history": result.history,
        "n_train": len(train_examples),
        "valid_scores": result.valid_scores,  # so calibration need not score them again
    }


def evaluate_version(
    clf: Classifier,
    test: Sequence[Example],
    seed: int,
    external: Sequence[Example] = (),
    target_recall: float | None = None,
) -> dict[str, Any]:
    """Held-out figures at the saved threshold: on the in-distribution test split (top
    level, as before) and, when given, on an external set written apart from the training
    data, with a warning when its recall falls more than 5 points below `target_recall`."""
    out = _held_out(clf, test, seed)
    if external:
        ext = _held_out(clf, external, seed)
        warning = external_recall_warning(ext["recall"], target_recall)
        if warning:
            ext["warning"] = warning
        out["external"] = ext
    return out


def _held_out(clf: Classifier, examples: Sequence[Example], seed: int) -> dict[str, Any]:
    """The figures `highstakes evaluate` reports too (both call `held_out_metrics`)."""
    kept, labels = labeled(examples)
    return held_out_metrics(labels, clf.score([e.snippet for e in kept]), clf.threshold, seed=seed)


def build_attack(spec: AttackConfig, clf: Classifier, models: dict[str, Any]) -> Any:
    from highstakes.attacks import recipes

    options = {k: (None if v == "off" else v) for k, v in spec.options.items()}
    if spec.recipe not in recipes.USES_MODELS:  # typos, rewording: the classifier alone
        return recipes.build(spec.recipe, clf, **options)
    if "encoder" not in models:  # one sentence encoder for every attack of the loop
        from highstakes.attacks.constraints.similarity import SentenceEncoder

        models["encoder"] = SentenceEncoder()
    needs_lm = spec.recipe == "paraphrase" or options.get("use_lm_proposals", True)
    if needs_lm and "lm" not in models:
        from highstakes.models.generator import CausalLM

        models["lm"] = CausalLM.from_pretrained()
    return recipes.build(spec.recipe, clf, models.get("lm"), models.get("encoder"), **options)


def run_attack(
    attack: Any,
    clf: Classifier,
    targets: Sequence[Example],
    budget: int,
    path: Path,
    salt: str,
    progress: ProgressFn | None = None,
    keep: int = 1,
    together: int = 1,
) -> list[dict[str, Any]]:
    """Attack the targets `together` at a time (`attack_together`: their searches' requests
    are scored in one batch a step), one durable JSON line per target.  A group's lines are
    written at once, and a rerun continues after the last group written whole, so its
    batches, and its bytes, are those of an uninterrupted run.  A target the classifier
    already misses is recorded, not attacked.  A record's `seconds` is its group's time
    per target."""
    groups = [targets[i : i + together] for i in range(0, len(targets), together)]
    written = {r["target_id"]: r for r in read_jsonl(path, missing_ok=True, torn_tail_ok=True)}
    whole = [all(e.id in written for e in g) for g in groups]
    done = [written[e.id] for g, w in zip(groups, whole, strict=True) if w for e in g]
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in done))
    if progress and not all(whole):  # the clock of a log's line starts here, not a group in
        progress(f"{attack.name} attack ({salt})", len(done), len(targets))
    for group in (g for g, w in zip(groups, whole, strict=True) if not w):  # a cut one too
        t0 = time.perf_counter()
        records = _attack_group(attack, clf, group, budget, salt, keep)
        for record in records:
            record["seconds"] = round((time.perf_counter() - t0) / len(group), 3)
        append_lines(path, records)
        done.extend(records)
        if progress:
            progress(f"{attack.name} attack ({salt})", len(done), len(targets))
    return done


def _attack_group(
    attack: Any, clf: Classifier, group: Sequence[Example], budget: int, salt: str, keep: int
) -> list[dict[str, Any]]:
    import torch

    from highstakes.attacks.run import attack_many

    records = []
    for example, original in zip(group, clf.score([e.snippet for e in group]), strict=True):
        flagged = bool(original >= clf.threshold)
        record = {"target_id": example.id, "flagged": flagged, "found": None, "more": []}
        record["original_score"] = float(original)
        if not flagged:
            record["queries"] = 0
        records.append(record)
    attacked = [i for i, r in enumerate(records) if r["flagged"]]

    def seed(j: int) -> None:  # sampling attacks redo the same draws for a target on a rerun
        torch.manual_seed(stable_int(group[attacked[j]].id, salt))

    snippets = [group[i].snippet for i in attacked]
    results = attack_many(attack, clf, snippets, clf.threshold, budget, seed)
    for i, result in zip(attacked, results, strict=True):
        records[i]["queries"] = int(result.queries)
        ranked = sorted(result.found, key=lambda c: c.score if c.score is not None else 1.0)
        distinct = list({c.snippet: c for c in reversed(ranked)}.values())[::-1]
        if distinct:
            records[i]["found"] = _found(distinct[0])
            records[i]["more"] = [_found(c) for c in distinct[1:keep]]
    return records


def _found(candidate: Any) -> dict[str, Any]:
    return {
        "prompt": candidate.snippet.prompt,
        "completion": candidate.snippet.completion,
        "score": candidate.score,
        "edits": "; ".join(e.describe() for e in candidate.edits),
    }


def results_of(record: dict[str, Any]) -> list[Snippet]:
    """The snippets an attack record found: the best first."""
    found = [record["found"], *record.get("more", [])] if record["found"] else []
    return [Snippet(f["prompt"], f["completion"]) for f in found]


def adversarial_examples(
    records: Sequence[dict[str, Any]],
    labels: dict[str, str],
    by_id: dict[str, Example],
    recipe: str,
    version: str,
    round_: int,
    labeler: str,
    run: str = "train",
) -> list[Example]:
    """Labeled attack results as examples (unsure ones are left out), tagged with the
    attack run that found them (`train`: trained on; `eval`, `heldout`: measured only)."""
    out = []
    for r, snippet, found in ((rec, s, f) for rec in records for s, f in _pairs(rec)):
        label = Label(labels[snippet.key()])
        if label is Label.UNSURE:
            continue
        parent = by_id[r["target_id"]]
        source = Source.PARAPHRASE if recipe == "paraphrase" else Source.AUTO_ATTACK
        tags = {"recipe": recipe, "run": run, "queries": str(r["queries"]), "edits": found["edits"]}
        out.append(
            _loop_example(
                f"adv-r{round_}-{snippet.key()}",
                snippet,
                label,
                parent,
                source,
                f"auto:{recipe}",
                round_,
                version,
                labeler,
                tags,
            )
        )
    return out


def _pairs(record: dict[str, Any]) -> list[tuple[Snippet, dict[str, Any]]]:
    found = [record["found"], *record.get("more", [])] if record["found"] else []
    return list(zip(results_of(record), found, strict=True))


def succeeded(record: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether an attack record counts as a success: the version passes the target as it
    is, or the attack got an edit of it under the threshold and the labeler says the
    result is still injurious."""
    if not record["flagged"]:
        return True
    found = record["found"]
    return bool(found) and labels.get(Snippet(found["prompt"], found["completion"]).key()) == "yes"


def records_cost(
    records: Sequence[dict[str, Any]],
    labels: dict[str, str],
    version: str = "",
    confidence: float = 0.95,
    attack: str = "",
) -> AttackCost:
    """The queries an attack run spent, every target's (failed searches included), with
    its successes as `succeeded` counts them: an exact cost per success, bootstrapped
    over the targets.  `records` must not be empty."""
    queries = [float(r["queries"]) for r in records]
    wins = [succeeded(r, labels) for r in records]
    return attack_cost(version, queries, wins, "queries", confidence, attack=attack)


def attack_summary(records: Sequence[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    """Success (`succeeded`) on a fixed set of injurious targets.  Rates are over all
    targets, so every version is measured on the same ones; `flagged` counts those the
    version caught before any attack."""
    flagged = [r for r in records if r["flagged"]]
    flips = [r for r in flagged if r["found"]]
    queries = sum(r["queries"] for r in flagged)
    cost = records_cost(records, labels) if records else None
    n, k = len(records), cost.n_successes if cost else 0
    low, high = clopper_pearson(k, n) if n else (0.0, 1.0)
    bounds = cost.as_dict() if cost else {}  # an infinite bound as None: JSON has no inf
    return {
        "targets": n,
        "flagged": len(flagged),
        "flipped": len(flips),
        "succeeded": k,
        "success_rate": k / n if n else None,
        "success_rate_interval": (low, high),
        "queries": queries,
        "queries_per_success": queries / k if k else None,
        # a bootstrap over the targets (`attack_cost`); None without a success
        "queries_per_success_interval": (
            (bounds["cost_per_success_lower"], bounds["cost_per_success_upper"]) if k else None
        ),
    }


def matched_negatives(
    positives: Sequence[Example],
    pool: Sequence[Example],
    transformation: Any,
    per_example: int,
    round_: int,
    version: str,
    labeler: str,
    seed: int,
) -> list[Example]:
    """For each adversarial injurious example, `per_example` harmless snippets from `pool`
    with as many random edits of the recipe's kinds (`preserving.random_edits`), labeled
    no: the recipe keeps labels by construction, so these are as harmless as their source."""
    from highstakes.attacks.preserving import random_edits

    negatives = [e for e in pool if e.label is Label.NO]
    out: list[Example] = []
    for positive in (p for p in positives if p.label is Label.YES):
        steps = max(1, len([x for x in positive.tags.get("edits", "").split("; ") if x]))
        for j in range(per_example):
            base = min(negatives, key=lambda e: stable_int(e.id, positive.id, j, seed))
            found = random_edits(transformation, base.snippet, steps, stable_int(positive.id, j))
            if not found.edits:
                continue
            recipe = positive.tags.get("recipe", "")
            tags = {
                "recipe": recipe,
                "run": "train",
                "kind": "matched-negative",
                "edits": "; ".join(e.describe() for e in found.edits),
            }
            out.append(
                _loop_example(
                    f"neg-r{round_}-{found.snippet.key()}",
                    found.snippet,
                    Label.NO,
                    base,
                    Source.AUTO_ATTACK,
                    f"auto:{recipe}:random-edits",
                    round_,
                    version,
                    labeler,
                    tags,
                )
            )
    return out


def _loop_example(
    id_: str,
    snippet: Snippet,
    label: Label,
    parent: Example,
    source: Source,
    author: str,
    round_: int,
    version: str,
    labeler: str,
    tags: dict[str, str],
) -> Example:
    """A training example the loop made from `parent` in this round."""
    provenance = Provenance(
        source=source,
        round=round_,
        target_version=version,
        author=author,
        labelers=(labeler,),
        parent_id=parent.id,
    )
    return Example(
        id=id_,
        snippet=snippet,
        label=label,
        provenance=provenance,
        genre=parent.genre,
        split="train",
        tags=tags,
    )
