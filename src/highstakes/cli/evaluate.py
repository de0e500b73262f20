"""`highstakes evaluate`: held-out metrics, the cross-round matrix and attack cost."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from highstakes.cli.errors import user_errors
from highstakes.cli.options import given
from highstakes.cli.progress import batch_counter, console, progress_bar


def evaluate_command(
    ctx: typer.Context,
    model: list[Path] = typer.Option(
        [], "--model", help="Classifier folder; repeat in round order (v0, v1, ...)."
    ),
    project: Path = typer.Option(
        None,
        "--project",
        help="A loop's project folder: every round's model, in order, the evaluation-only "
        "attack results aimed at each, and the loop's data and external set unless --data "
        "or --external is given.",
    ),
    adversarial: list[Path] = typer.Option(
        [], "--adversarial", help="Adversarial examples file; repeat for more."
    ),
    attempts: list[Path] = typer.Option(
        [],
        "--attempts",
        help="An attack's record of every target (`highstakes attack` writes "
        "OUT.attempts.jsonl): exact queries per success for its confirmed results.",
    ),
    data: str = typer.Option("demo", "--data", help="'demo' or a labeled data file."),
    split: str = typer.Option("test", help="Split of --data to measure: train, valid or test."),
    external: str = typer.Option(
        "auto",
        "--external",
        help="A labeled set written apart from the training data, measured beside --split: "
        "'external' (the shipped injury set), a file, 'none'; 'auto' is 'external' when "
        "--data is demo, else none.",
    ),
    confidence: float = typer.Option(0.95, min=0.5, max=0.999, help="For every interval."),
    out: Path = typer.Option(Path("runs/evaluation"), "--out", help="Folder for the report."),
) -> None:
    """Measure each classifier on held-out data (ROC, precision-recall, recall and
    in-distribution failure rate with exact intervals), against the adversarial examples
    aimed at every version (the cross-round matrix), and report attack cost by version.

    Adversarial files hold examples like any data file; only those labeled 'yes'
    (confirmed injurious) count, grouped by their target_version (else the file name).
    Writes metrics.json and report.html to --out.

    With --project (after `highstakes loop` or `demo`), a finished loop is measured again,
    for instance on another labeled set written apart: --external FILE.  Its training
    attack's results are left out of the matrix, since each later version trained on them.
    Its evaluation-only attacks' cost per version comes from their records of every
    target, failed searches included, so it is exact and has a bootstrap interval.

    The cost from --adversarial files alone counts the successes only: a lower bound.
    With --attempts, the attack's record of every target, an attempt succeeded when one of
    its results is in the files labeled 'yes', and its cost is exact.
    """
    from highstakes.data.demo import DEMO_NAME, EXTERNAL_NAME, load_dataset
    from highstakes.data.splits import assign_splits
    from highstakes.evaluation.report import (
        attack_cost_section,
        cross_round_section,
        detection_section,
        write_report,
    )
    from highstakes.evaluation.robustness import (
        costs_by_version,
        costs_from_attempts,
        cross_round_matrix,
    )

    with user_errors():
        if split not in ("train", "valid", "test"):
            raise ValueError("--split must be train, valid or test")
        aimed: dict[str, list[Any]] = {}
        loop_costs: list[Any] = []
        if project is not None:
            loop = _project(project, confidence)
            model = [*loop["models"], *model]
            aimed, loop_costs = loop["aimed"], loop["costs"]
            data = data if given(ctx, "data") else loop["data"]
            external = external if given(ctx, "external") else (loop["external"] or "none")
        if not model:
            raise ValueError("give the classifiers to measure: --model (repeated) or --project")
        if attempts and not adversarial:
            raise ValueError(
                "--attempts needs the attack's confirmed results too: --adversarial FILE"
            )
        if external == "auto":
            external = EXTERNAL_NAME if data == DEMO_NAME else "none"
        # every input read (and checked) before the first model scores anything
        held_out = assign_splits(load_dataset(data))[split]
        external_set = load_dataset(external) if external != "none" else None
        from_files, seen = _adversarial_sets(adversarial)
        tried = [row for path in attempts for row in _attempts(path)]
        unseen = {key for row in tried for key in row["found"]} - seen
        if unseen:  # not labeled yet, or left out of the files given
            console.print(
                f"results of the attempts in no --adversarial file: {len(unseen)}; "
                "their attempts count as failed"
            )
        attacks = {t: [*from_files.get(t, []), *aimed.get(t, [])] for t in {*from_files, *aimed}}
        versions = _load_versions(model)
        metrics: dict[str, Any] = {"split": split, "versions": [v.name for v in versions]}
        curves, metrics["held_out"] = _held_out(versions, held_out, confidence)
        sections = [detection_section(curves)] if curves else []
        if external_set is not None:
            metrics["external_data"] = external
            ext_curves, metrics["external"] = _held_out(versions, external_set, confidence)
            if ext_curves:
                sections.append(detection_section(ext_curves, f"external set ({external})"))
            metrics["warnings"] = _recall_warnings(versions, metrics["external"])
        if attacks:
            snippets = {target: [e.snippet for e in ex] for target, ex in attacks.items()}
            matrix = cross_round_matrix(versions, _ordered(snippets, versions), confidence)
            metrics["cross_round"] = matrix.as_dict()
            sections.append(cross_round_section(matrix))
        # files of results hold only the successes' costs (a lower bound); a loop's own
        # attack records hold every target's, the failed searches' included
        files = [e for examples in from_files.values() for e in examples]
        exact = costs_from_attempts(tried, {e.snippet.key() for e in files}, confidence)
        covered = {key for row in tried for key in row["found"]}  # their cost is exact
        rest = [e for e in files if e.snippet.key() not in covered]
        costs = [*loop_costs, *exact, *costs_by_version(rest, confidence)]
        if costs:
            metrics["attack_cost"] = [c.as_dict() for c in costs]
            sections.append(attack_cost_section(costs))
        write_report(out, metrics, sections, "highstakes evaluation")
    _print(metrics, out)


def _project(root: Path, confidence: float) -> dict[str, Any]:
    """A loop's project folder: its versions' model folders in round order, the confirmed
    results of its evaluation-only attacks (eval, held-out) by the version they aimed at
    and what those attacks cost, and its data and external set."""
    import json

    from highstakes.data.io import read_examples
    from highstakes.data.records import Label
    from highstakes.loop.project import Project, round_version
    from highstakes.loop.report import trained_on

    saved = root / "config.json"
    if not saved.is_file():
        raise ValueError(f"no loop project at {root}: it has no config.json")
    config = json.loads(saved.read_text(encoding="utf-8"))
    project = Project(root)
    rounds = [r for r in project.rounds() if (project.model_dir(r) / "config.json").is_file()]
    if not rounds:  # none trained and saved yet
        raise ValueError(f"{root} holds no trained version yet (round-N/model)")
    aimed: dict[str, list[Any]] = defaultdict(list)
    for r in rounds:
        path = project.round_dir(r) / "aimed.jsonl"
        for e in read_examples(path) if path.exists() else []:
            if e.label is Label.YES and not trained_on(e):
                aimed[e.provenance.target_version or round_version(r)].append(e)
    return {
        "models": [project.model_dir(r) for r in rounds],
        "aimed": dict(aimed),
        "costs": _loop_costs(project, confidence),
        "data": config.get("data", "demo"),
        "external": config.get("external"),
    }


def _loop_costs(project: Any, confidence: float) -> list[Any]:
    """The queries a loop's evaluation-only attacks (eval, held-out) spent on each version,
    from its attack records (`stages.records_cost`: every target, the failed searches
    included, a success as the loop's report counts one)."""
    from highstakes.data.jsonl import read_jsonl
    from highstakes.loop.project import round_version
    from highstakes.loop.stages import records_cost

    out = []
    for r in project.rounds():
        attacks, labels = project.done(r, "attack"), project.done(r, "label")
        if attacks is None or labels is None:  # a round still attacking or labeling
            continue
        for run in ("eval", "heldout"):
            path = project.round_dir(r) / f"attack-{run}.jsonl"
            records = read_jsonl(path, missing_ok=True)
            if not records:
                continue
            name = f"{attacks['recipes'][run]} ({run})"
            out.append(records_cost(records, labels["labels"], round_version(r), confidence, name))
    return out


def _load_versions(folders: list[Path]) -> list[Any]:
    from highstakes.evaluation.robustness import ClassifierVersion
    from highstakes.loop.project import version_name
    from highstakes.models.classifier import Classifier

    versions, names = [], set()
    for folder in folders:
        clf = Classifier.from_pretrained(folder)
        name = version_name(folder, clf.metadata)
        while name in names:  # two folders called "classifier" from different runs
            name += "'"
        names.add(name)
        target = clf.metadata.get("config", {}).get("target_recall")
        versions.append(ClassifierVersion(name, _scorer(clf, name), clf.threshold, target))
    return versions


def _scorer(clf: Any, name: str) -> Any:
    """clf.score with a progress bar, since a version scores several sets."""

    def score(snippets: Any) -> Any:
        with progress_bar() as update:
            on_batch = batch_counter(update, f"scoring with {name}", len(snippets))
            return clf.score(snippets, on_batch=on_batch)

    return score


def _held_out(versions: list[Any], examples: list[Any], confidence: float) -> tuple[list[Any], Any]:
    """Per version: AUROC, recall and false-positive rate at its threshold (the shared
    `held_out_metrics`), the failure rate where the data allow one, and the curves."""
    import numpy as np

    from highstakes.data.records import Source
    from highstakes.evaluation.metrics import held_out_metrics
    from highstakes.evaluation.reliability import failure_rate
    from highstakes.evaluation.robustness import detection_curves
    from highstakes.training.trainer import labeled

    kept, labels = labeled(examples)
    if not kept:
        return [], {}
    # Only random samples of generator output say anything about the in-distribution
    # failure rate; hand-written and adversarial examples are not drawn from it.
    random_like = np.array([e.provenance.source in (Source.RANDOM, Source.GENERATOR) for e in kept])
    curves, rows = [], {}
    for v in versions:
        scores = v.score([e.snippet for e in kept])
        row: dict[str, Any] = held_out_metrics(labels, scores, v.threshold, confidence)
        if random_like.any():
            row["failure_rate"] = failure_rate(
                labels[random_like] == 1, scores[random_like] < v.threshold, confidence
            ).as_dict()
        if 0 < labels.sum() < labels.size:
            curve = detection_curves(v.name, labels, scores)
            curves.append(curve)
            row["curves"] = curve.as_dict()
        rows[v.name] = row
    return curves, rows


def _recall_warnings(versions: list[Any], external: dict[str, Any]) -> list[str]:
    """Versions whose saved threshold gives, on the external set, more than 5 points less
    recall than the validation recall it was chosen for."""
    from highstakes.evaluation.metrics import external_recall_warning

    out = []
    for v in versions:
        row = external.get(v.name)
        warning = row and external_recall_warning(row["recall"], v.target_recall)
        if warning:
            out.append(f"{v.name}: {warning}")
    return out


def _adversarial_sets(files: list[Path]) -> tuple[dict[str, list[Any]], set[str]]:
    """Confirmed-injurious examples from each file, grouped by the version they targeted,
    and the snippet keys of every example in them, whatever its label."""
    from highstakes.data.io import read_examples
    from highstakes.data.records import Label

    groups: dict[str, list[Any]] = defaultdict(list)
    seen: set[str] = set()
    n_unconfirmed = 0
    for path in files:
        for e in read_examples(path):
            seen.add(e.snippet.key())
            if e.label is not Label.YES:
                n_unconfirmed += 1
                continue
            groups[e.provenance.target_version or path.stem].append(e)
    if n_unconfirmed:
        console.print(f"left out {n_unconfirmed} adversarial examples not labeled 'yes'")
    return dict(groups), seen


def _attempts(path: Path) -> list[dict[str, Any]]:
    """An attack's attempt records (`attacks.run.attempt_records`), each line checked."""
    from highstakes.data.jsonl import read_jsonl

    rows = read_jsonl(path)
    for n, row in enumerate(rows, 1):
        queries, found = row.get("queries"), row.get("found")
        if not (
            isinstance(row.get("target_version"), str)
            and isinstance(row.get("recipe"), str)
            and isinstance(queries, int)
            and queries >= 0
            and isinstance(found, list)
        ):
            raise ValueError(
                f"{path}, line {n}: not an attempt record (target_version, recipe, queries "
                "and found, as `highstakes attack` writes them in OUT.attempts.jsonl)"
            )
    return rows


def _ordered(groups: dict[str, Any], versions: list[Any]) -> dict[str, Any]:
    """Columns in round order (the versions given), then any other targets by name."""
    names = [v.name for v in versions]
    order = [n for n in names if n in groups] + sorted(set(groups) - set(names))
    return {target: groups[target] for target in order}


def _print(metrics: dict[str, Any], out: Path) -> None:
    sets = [(f"held-out ({metrics['split']} split)", metrics["held_out"])]
    if "external" in metrics:
        sets.append((f"external set ({metrics['external_data']})", metrics["external"]))
    for title, rows in sets:
        table = Table(title=title)
        for col in ("classifier", "threshold", "AUROC", "recall", "false-positive rate"):
            table.add_column(col, justify="right")
        for name, row in rows.items():
            table.add_row(
                name,
                f"{row['threshold']:.4g}",
                _interval(row["auroc"], row["auroc_interval"], 4),
                _interval(row["recall"], row["recall_interval"]),
                _interval(row["false_positive_rate"], row["false_positive_rate_interval"]),
            )
        console.print(table)
    if metrics.get("attack_cost"):
        console.print(_cost_table(metrics["attack_cost"]))
    for warning in metrics.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, markup=True)
    console.print(f"report: {out / 'report.html'}")


def _cost_table(costs: list[dict[str, Any]]) -> Table:
    """Attack cost per version: exact where the failed attempts are counted, else marked as
    a lower bound."""
    table = Table(title="attack cost")
    for col in ("classifier", "attack", "successes", "per success", "failures counted"):
        table.add_column(col, justify="right")
    for c in costs:
        table.add_row(
            c["version"],
            c["attack"] or "-",
            f"{c['n_successes']}" + (f" of {c['n_attempts']}" if c["counts_failures"] else ""),
            _per_success(c),
            "yes" if c["counts_failures"] else "no: a lower bound",
        )
    return table


def _per_success(c: dict[str, Any]) -> str:
    """The cost cell, as in "448.1 queries [290.5, 816.1]".  JSON's None is a NaN (no
    success: no figure, no interval) or, for the upper end alone, an unbounded one."""
    from highstakes.evaluation.report import bounds_text

    per, low, high = c["cost_per_success"], c["cost_per_success_lower"], c["cost_per_success_upper"]
    if per is None:
        return "-"
    return f"{per:.4g} {c['unit']}" + ("" if low is None else f" {bounds_text(low, high)}")


def _interval(value: float, interval: tuple[float, float], digits: int = 3) -> str:
    if value != value:  # NaN: the set lacks that class
        return "n/a"
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"
