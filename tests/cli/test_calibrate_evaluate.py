"""`highstakes calibrate` and `highstakes evaluate` end to end on tiny classifiers."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from highstakes.cli.main import app
from highstakes.data.io import write_examples
from highstakes.data.records import Example, Label, Provenance, Snippet, Source
from highstakes.evaluation.quality import CompletionSample
from tests.attacks.conftest import build_tiny_lm
from tests.conftest import build_tiny_classifier, make_examples

runner = CliRunner()


def pinned_data(folder: Path) -> Path:
    """The synthetic examples with half the prompts in valid and half in test; every
    fourth test example is marked as a random generator sample."""
    examples = []
    for i, e in enumerate(make_examples(12)):
        split = "valid" if (i // 4) % 2 else "test"
        source = Source.GENERATOR if split == "test" and i % 3 == 0 else e.provenance.source
        examples.append(
            dataclasses.replace(
                e, split=split, provenance=dataclasses.replace(e.provenance, source=source)
            )
        )
    return write_examples(folder / "data.jsonl", examples)


def test_calibrate_with_ratings_writes_report_and_threshold(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    ratings = tmp_path / "ratings.jsonl"
    rows = [{"threshold": 0.9, "preferred": p} for p in ["filtered"] * 200 + ["unfiltered"] * 190]
    ratings.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "cal"
    args = ["calibrate", "--model", str(model), "--data", str(pinned_data(tmp_path))]
    result = runner.invoke(
        app, [*args, "--ratings", str(ratings), "--out", str(out), "--write-threshold"]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["calibration"]["threshold"] == 0.9
    assert metrics["calibration"]["quality_source"] == "ratings"
    assert "data:image/png;base64," in (out / "report.html").read_text()
    saved = json.loads((model / "highstakes.json").read_text())
    assert saved["threshold"] == 0.9 and saved["metadata"]["calibration"]["limited_by"] == "quality"


def test_calibrate_rescores_a_saved_completion_sample(tmp_path: Path, tiny_model_dir: Path) -> None:
    rng = np.random.default_rng(0)
    texts = [[f"Tom walked home {i} {j} times." for j in range(4)] for i in range(6)]
    sample = CompletionSample(
        [f"Story {i}. It was late. Tom was tired." for i in range(6)],
        texts,
        np.full((6, 4), np.nan),  # the CLI scores with the model it calibrates
        -2 + 0.1 * rng.standard_normal((6, 4)),
    )
    path = tmp_path / "sample.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in sample.to_rows()))
    out = tmp_path / "cal"
    args = ["calibrate", "--model", str(tiny_model_dir), "--data", str(pinned_data(tmp_path))]
    result = runner.invoke(
        app, [*args, "--sample", str(path), "--target-recall", "0.5", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["curve"]["quality_source"] == "likelihood-proxy"
    assert metrics["curve"]["rejection_source"] == "completion-sample"
    assert min(metrics["curve"]["thresholds"]) <= 1e-6


def test_calibrate_draws_and_saves_a_sample_with_a_local_generator(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    lm = build_tiny_lm(tmp_path / "lm")
    out = tmp_path / "cal"
    args = ["calibrate", "--model", str(tiny_model_dir), "--data", str(pinned_data(tmp_path))]
    args += ["--generator", str(lm), "--proxy-prompts", "2", "--samples-per-prompt", "2"]
    result = runner.invoke(app, [*args, "--target-recall", "0.5", "--out", str(out)])
    rows = [json.loads(x) for x in (out / "completion_sample.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(len(r["completions"]) == 2 for r in rows)
    # The random tiny LM seldom ends a sentence: then the proxy says why it cannot judge.
    assert result.exit_code == 0 or "two whole-sentence completions" in result.output


def test_evaluate_builds_the_cross_round_matrix(tmp_path: Path) -> None:
    v0 = build_tiny_classifier(tmp_path / "v0", seed=0)
    v1 = build_tiny_classifier(tmp_path / "v1", seed=1)

    def attack(i: int, target: str, label: Label) -> Example:
        provenance = Provenance(
            Source.TOOL_ASSISTED, target_version=target, seconds_spent=60.0 * (i + 10)
        )
        return Example(f"a{i}", Snippet("A. B. C.", f"He cut himself {i}."), label, provenance)

    adversarial = write_examples(
        tmp_path / "adv.jsonl",
        [
            attack(0, "v0", Label.YES),
            attack(1, "v0", Label.YES),
            attack(2, "v1", Label.YES),
            attack(3, "v1", Label.UNSURE),
        ],
    )
    out = tmp_path / "eval"
    args = ["evaluate", "--model", str(v0), "--model", str(v1), "--adversarial", str(adversarial)]
    result = runner.invoke(app, [*args, "--data", str(pinned_data(tmp_path)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "left out 1 adversarial" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    matrix = metrics["cross_round"]
    assert matrix["versions"] == ["v0", "v1"] and matrix["targets"] == ["v0", "v1"]
    assert matrix["n_examples"] == [2, 1]
    costs = {c["version"]: c for c in metrics["attack_cost"]}
    assert costs["v0"]["cost_per_success"] == 10.5 and costs["v1"]["unit"] == "minutes"
    held = metrics["held_out"]["v0"]
    assert 0 <= held["curves"]["auroc"] <= 1 and "failure_rate" in held
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 3


def test_evaluate_counts_an_attacks_failed_attempts(tmp_path: Path) -> None:
    v0 = build_tiny_classifier(tmp_path / "v0", seed=0)

    def result(i: int, label: Label) -> Example:
        provenance = Provenance(Source.AUTO_ATTACK, target_version="v0")
        snippet = Snippet("A. B. C.", f"He cut hmiself {i}.")
        return Example(snippet.key(), snippet, label, provenance, tags={"queries": str(10 * i)})

    confirmed, harmless, elsewhere = result(1, Label.YES), result(2, Label.NO), result(4, Label.YES)
    adversarial = write_examples(tmp_path / "adv.jsonl", [confirmed, harmless, elsewhere])
    # a success, a result labeled harmless, a search that found nothing, and a result that
    # is in no file (not labeled yet): a failed attempt, said so
    rows = [
        {"target_version": "v0", "recipe": "typos", "queries": q, "found": found}
        for q, found in ((10, [confirmed.id]), (20, [harmless.id]), (30, []), (5, ["unlabeled"]))
    ]
    tried = tmp_path / "adv.jsonl.attempts.jsonl"
    tried.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "eval"
    args = ["evaluate", "--model", str(v0), "--data", str(pinned_data(tmp_path)), "--out", str(out)]
    given = ["--adversarial", str(adversarial), "--attempts", str(tried)]
    done = runner.invoke(app, [*args, *given])
    assert done.exit_code == 0, done.output
    exact, bound = json.loads((out / "metrics.json").read_text())["attack_cost"]
    # a third of the resamples hold no success, so the upper end is unbounded
    assert exact["cost_per_success_upper"] is None and "65 queries [" in done.output
    assert "inf]" in done.output and "inf]" in (out / "report.html").read_text()
    assert (exact["attack"], exact["n_attempts"], exact["n_successes"]) == ("typos", 4, 1)
    assert exact["cost_per_success"] == 65.0 and exact["counts_failures"]
    assert "results of the attempts in no --adversarial file: 1;" in done.output
    # the confirmed result no attempts file covers is still counted, as a lower bound
    assert (bound["n_successes"], bound["cost_per_success"]) == (1, 40.0)
    assert not bound["counts_failures"]

    tried.write_text('{"target_version": "v0", "recipe": "typos", "queries": -1, "found": []}\n')
    for wrong, message in (
        (given, "line 1: not an attempt record"),
        (["--attempts", str(tried)], "--attempts needs the attack's confirmed results"),
    ):
        shutil.rmtree(out, ignore_errors=True)
        refused = runner.invoke(app, [*args, *wrong])
        assert refused.exit_code == 2 and message in refused.output and not out.exists()


def test_evaluate_reads_every_input_before_scoring(tmp_path: Path) -> None:
    v0 = build_tiny_classifier(tmp_path / "v0", seed=0)
    args = ["evaluate", "--model", str(v0), "--data", str(pinned_data(tmp_path))]
    for wrong in (["--adversarial", "missing.jsonl"], ["--external", "missing.jsonl"]):
        out = tmp_path / "eval"
        result = runner.invoke(app, [*args, *wrong, "--out", str(out)])
        assert result.exit_code == 2 and "no such file or folder: missing.jsonl" in result.output
        assert "scoring with" not in result.output and not out.exists()


def test_new_commands_explain_themselves() -> None:
    for command in ("generate", "calibrate", "evaluate"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def write_attack_records(round_dir: Path) -> None:
    """A finished round's eval attack: a target the version already passes (a success at
    no cost), one beaten with a result labeled injurious, one whose result was labeled
    harmless and one never beaten; its held-out attack wrote nothing."""
    found = {"prompt": "A. B. C.", "completion": "He cut hmiself.", "score": 0.1, "edits": ""}
    harmless = {**found, "completion": "He cut the bread."}
    records = [
        {"target_id": "t0", "flagged": False, "found": None, "more": [], "queries": 0},
        {"target_id": "t1", "flagged": True, "found": found, "more": [], "queries": 10},
        {"target_id": "t2", "flagged": True, "found": harmless, "more": [], "queries": 20},
        {"target_id": "t3", "flagged": True, "found": None, "more": [], "queries": 30},
    ]
    lines = "".join(json.dumps(r) + "\n" for r in records)
    (round_dir / "attack-eval.jsonl").write_text(lines)
    runs = {"eval": "elsewhere/attack-eval.jsonl", "heldout": "elsewhere/attack-heldout.jsonl"}
    recipes = {"eval": "typos", "heldout": "rewording"}
    (round_dir / "attack.done.json").write_text(json.dumps({"runs": runs, "recipes": recipes}))
    labels = {
        Snippet(f["prompt"], f["completion"]).key(): v
        for f, v in ((found, "yes"), (harmless, "no"))
    }
    (round_dir / "label.done.json").write_text(json.dumps({"labeler": "kept", "labels": labels}))


def test_evaluate_measures_a_loop_project_again(tmp_path: Path) -> None:
    project = tmp_path / "project"
    data = pinned_data(tmp_path)
    (project).mkdir()
    (project / "config.json").write_text(json.dumps({"data": str(data), "external": None}))
    for r in (0, 1):
        build_tiny_classifier(project / f"round-{r}" / "model", seed=r)

    def aimed(i: int, target: str, run: str, label: Label = Label.YES) -> Example:
        provenance = Provenance(Source.AUTO_ATTACK, target_version=target)
        snippet = Snippet("A. B. C.", f"He cut himself {i}.")
        return Example(f"a{i}", snippet, label, provenance, tags={"run": run})

    write_examples(
        project / "round-0" / "aimed.jsonl",
        [aimed(0, "v0", "train"), aimed(1, "v0", "eval"), aimed(2, "v0", "heldout", Label.UNSURE)],
    )
    write_examples(project / "round-1" / "aimed.jsonl", [aimed(3, "v1", "heldout")])
    write_attack_records(project / "round-0")  # round 1's attack has not finished
    (project / "round-2").mkdir()  # a round still training: no model yet
    out = tmp_path / "eval"
    result = runner.invoke(app, ["evaluate", "--project", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["versions"] == ["v0", "v1"] and "external" not in metrics
    matrix = metrics["cross_round"]  # the training attack's result is left out
    assert matrix["targets"] == ["v0", "v1"] and matrix["n_examples"] == [1, 1]
    # every target's queries over the successes: 60 / 2, the failed searches' included
    (cost,) = metrics["attack_cost"]
    assert (cost["version"], cost["attack"], cost["counts_failures"]) == (
        "v0",
        "typos (eval)",
        True,
    )
    assert (cost["n_attempts"], cost["n_successes"], cost["cost_per_success"]) == (4, 2, 30.0)
    assert "attack cost" in result.output and "2 of 4" in result.output

    other = write_examples(tmp_path / "other.jsonl", make_examples(8))
    again = ["evaluate", "--project", str(project), "--external", str(other), "--out", str(out)]
    assert runner.invoke(app, again).exit_code == 0
    assert json.loads((out / "metrics.json").read_text())["external"].keys() == {"v0", "v1"}

    for args, message in (
        (["--project", str(tmp_path)], "no loop project at"),
        ([], "--model (repeated) or --project"),
    ):
        refused = runner.invoke(app, ["evaluate", *args, "--out", str(tmp_path / "no")])
        assert refused.exit_code == 2 and message in refused.output
        assert not (tmp_path / "no").exists()
