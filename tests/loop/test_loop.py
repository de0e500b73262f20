"""The loop end to end on a tiny model: artifacts per round, a report, and a run killed
during training and again during an attack that ends exactly like an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from highstakes.data.io import write_examples
from highstakes.data.splits import assign_splits
from highstakes.loop.thresholds import flagged_count
from highstakes.training.checkpoints import STATE_FILE, checkpoint_dir
from highstakes.training.trainer import labeled
from tests.conftest import build_tiny_classifier, make_examples

CONFIG = """
project = "{project}"
data = "{data}"
external = "{external}"
rounds = 2
seed = 0

[train]
model = "{model}"
epochs = 3
max_length = 64
batch_size = 16
patience = 5

[retrain]
mode = "warm-start"
epochs = 1
adversarial_repeat = 2
matched_negatives = 1
replay = 0.5          # half the base train split again in each warm-start pass

[attack]
recipe = "typos"
train_targets = 6
train_budget = 30
examples_per_target = 2
eval_targets = 6
budget = 40
together = 2          # a group is written at once: the kill below lands between groups
external_targets = 3  # also attacked on the external set, to measure only

[heldout]
recipe = "rewording"
eval_targets = 4
budget = 20
external_targets = 2

[label]
labeler = "kept"
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("loop")
    model = build_tiny_classifier(root / "tiny")
    data = write_examples(root / "data.jsonl", make_examples(24))
    # the external set: like the data's texts, under ids of its own
    external = [replace(e, id=f"ext-{e.id}") for e in make_examples(6)]
    external = write_examples(root / "external.jsonl", external)
    return {"root": root, "model": model, "data": data, "external": external}


def _config(setup: dict[str, Path], name: str) -> Path:
    project = setup["root"] / name
    text = CONFIG.format(
        project=project, data=setup["data"], model=setup["model"], external=setup["external"]
    )
    path = setup["root"] / f"{name}.toml"
    path.write_text(text)
    return path


def _command(config: Path) -> list[str]:
    code = "from highstakes.cli.main import app; app()"
    return [sys.executable, "-c", code, "loop", "--config", str(config)]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _run(config: Path) -> None:
    done = subprocess.run(_command(config), capture_output=True, text=True, env=_env(), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _kill_when(config: Path, ready: Callable[[], bool]) -> None:
    process = subprocess.Popen(
        _command(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env()
    )
    deadline = time.monotonic() + 300
    while not ready():
        assert process.poll() is None, "the loop finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(30)


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _results(project: Path) -> dict[str, object]:
    report = json.loads((project / "report.json").read_text())
    aimed = {
        r: sorted(
            json.loads(line)["completion"]
            for line in (project / f"round-{r}" / "aimed.jsonl").read_text().splitlines()
        )
        for r in range(3)
    }
    return {"report": report, "aimed": aimed}


def test_attacks_side_by_side_are_set_per_section() -> None:
    from highstakes.loop.config import demo_config, parse_config

    assert demo_config().attack.together == demo_config().heldout.together == 64  # type: ignore[union-attr]
    assert parse_config({}).attack.together == 16
    assert parse_config({"attack": {"together": 1}}).attack.together == 1
    for bad in (0, 2.5, "4"):
        with pytest.raises(ValueError, match=r"\[attack\]: together must be a whole number"):
            parse_config({"attack": {"together": bad}})


def test_external_targets_need_an_external_set() -> None:
    from highstakes.loop.config import parse_config

    assert parse_config({}).attack.external_targets == 0
    with_external = parse_config({"external": "x.jsonl", "heldout": {"external_targets": 5}})
    assert with_external.heldout.external_targets == 5  # type: ignore[union-attr]
    with pytest.raises(ValueError, match=r"\[attack\]: external_targets needs an external set"):
        parse_config({"attack": {"external_targets": 5}})
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match=r"external_targets must be a whole number"):
            parse_config({"external": "x.jsonl", "attack": {"external_targets": bad}})


def test_the_loop_seed_seeds_training_unless_train_sets_its_own() -> None:
    from highstakes.loop.config import parse_config

    assert parse_config({}).train.seed == 0
    assert parse_config({"seed": 3}).train.seed == 3
    assert parse_config({"seed": 3, "train": {"epochs": 2}}).train.seed == 3
    assert parse_config({"seed": 3, "train": {"seed": 5}}).train.seed == 5
    assert parse_config({"seed": 3}).seed == 3


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rounds": "two"}, r"x.toml: rounds must be a whole number >= 0, got 'two'"),
        ({"train": 3}, r"x.toml: train must be a table"),
        ({"train": {"epochs": -1}}, r"x.toml \[train\]: epochs must be a whole number >= 1"),
        ({"train": {"learning_rate": "1e-4"}}, r"\[train\]: learning_rate must be a number > 0"),
        ({"train": {"recall_confidence": 1}}, r"recall_confidence must be a number in \(0, 1\)"),
        ({"retrain": {"weight_average": 1}}, r"\[retrain\]: weight_average must be a number in"),
        ({"attack": {"options": 3}}, r"\[attack\]: options must be a table, got 3"),
        ({"heldout": {"budget": 0}}, r"\[heldout\]: budget must be a whole number >= 1"),
        ({"train": {"lat": "yes"}}, r"\[train\]: lat must be true or false, got 'yes'"),
        ({"retrain": {"lat": 1}}, r"\[retrain\]: lat must be true or false \(or left out\)"),
        ({"external": 3}, r"x.toml: external must be text \(or left out\), got 3"),
    ],
)
def test_settings_of_the_wrong_kind_or_out_of_bounds_are_refused_by_name(
    values: dict[str, object], message: str
) -> None:
    from highstakes.loop.config import parse_config

    with pytest.raises(ValueError, match=message):
        parse_config(values, "x.toml")
    parse_config({"train": {"learning_rate": 1, "weight_average": 0}}, "x.toml")  # 1 is 1.0


def test_a_bad_setting_stops_the_loop_before_it_writes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from highstakes.cli.main import app

    config = tmp_path / "loop.toml"
    config.write_text(f'project = "{tmp_path / "run"}"\n[train]\nepochs = 0\n')
    result = CliRunner().invoke(app, ["loop", "--config", str(config)])
    # the section is printed as written, not eaten as rich markup
    assert result.exit_code == 2 and "loop.toml [train]: epochs must be" in result.output
    assert not (tmp_path / "run").exists()


def test_replay_share_of_the_base_split() -> None:
    from highstakes.loop import stages
    from highstakes.loop.config import parse_config

    examples = make_examples(10)  # 40 examples; a fixed choice per salt below
    assert stages.replay(examples, 1.0, 0, 1) == examples
    half = stages.replay(examples, 0.5, 0, 1)
    assert len(half) == len(examples) // 2 and half == stages.replay(examples, 0.5, 0, 1)
    assert [e for e in examples if e in half] == half  # in the split's order
    assert half != stages.replay(examples, 0.5, 0, 2)  # drawn afresh each round
    assert parse_config({"retrain": {"replay": 0.25}}).retrain.replay == 0.25
    for bad in (0, 1.5, -0.1, "half", True):
        with pytest.raises(ValueError, match=r"\[retrain\]: replay must be a share in \(0, 1\]"):
            parse_config({"retrain": {"replay": bad}})


def test_label_keeping_attacks_load_no_other_model_and_log_from_the_start(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    from highstakes.data.records import Label
    from highstakes.loop import stages
    from highstakes.loop.config import AttackConfig
    from highstakes.models.classifier import Classifier

    clf = Classifier.from_pretrained(setup["model"])
    clf.threshold = 0.0  # every target flagged: all are attacked
    models: dict[str, object] = {}
    attack = stages.build_attack(AttackConfig(recipe="typos"), clf, models)
    assert models == {}  # typos needs neither the sentence encoder nor the language model
    targets = [e for e in make_examples(8) if e.label is Label.YES][:4]
    calls: list[tuple[int, int]] = []
    stages.run_attack(
        attack, clf, targets, 5, tmp_path / "a.jsonl", "t",
        lambda _phase, done, total: calls.append((done, total)), together=2,
    )  # fmt: skip
    assert calls == [(0, 4), (2, 4), (4, 4)]  # a log's clock starts before the first group


def test_loop_artifacts_and_report(setup: dict[str, Path]) -> None:
    config = _config(setup, "plain")
    _run(config)
    project = setup["root"] / "plain"
    report = json.loads((project / "report.json").read_text())
    assert [r["round"] for r in report] == [0, 1, 2]
    keys = {
        "round",
        "auroc",
        "recall",
        "attack_success_rate",
        "queries_per_success",
        "heldout_attack_success_rate",
        "external_auroc",
        "external_recall",
        "external_false_positive_rate",
    }
    assert all(keys <= set(r) for r in report)
    html = (project / "report.html").read_text()
    assert "learning curves" in html and "AUROC (external)" in html
    assert "<th>valid AUROC, recall &gt;= 0.9</th>" in html  # escaped in the page
    assert "v1, v2: the lower of two:" in html  # each version's threshold rule, in words
    evaluation = json.loads((project / "round-0" / "evaluate.done.json").read_text())
    assert evaluation["external"]["n_positive"] == 6 and evaluation["external"]["n_negative"] == 18
    for r in range(3):
        folder = project / f"round-{r}"
        for stage in ("train", "calibrate", "evaluate", "attack", "label", "summary"):
            assert (folder / f"{stage}.done.json").exists(), (r, stage)
        assert (folder / "model" / "highstakes.json").exists()
        assert not (folder / "model.checkpoint").exists()  # deleted once the model is saved
        assert not list((folder / "model").glob("*.pt"))  # no optimizer state in the model
    # later versions flag at least as many validation snippets as round 0's, and still
    # meet the recall rule: the lower of the two thresholds is saved with the model
    _, valid_labels = labeled(assign_splits(make_examples(24))["valid"])
    base = json.loads((project / "round-0" / "calibrate.done.json").read_text())
    for r in (1, 2):
        calib = json.loads((project / f"round-{r}" / "calibrate.done.json").read_text())
        low = min(calib["recall_rule_threshold"], calib["flag_rate_threshold"])
        assert calib["threshold"] == low
        assert calib["valid_flagged"] >= flagged_count(base, valid_labels)
        meta = json.loads((project / f"round-{r}" / "model" / "highstakes.json").read_text())
        assert meta["threshold"] == calib["threshold"]
    # rounds 1 and 2 trained on what the earlier rounds' attacks found
    summary = json.loads((project / "round-0" / "summary.done.json").read_text())
    added = summary["n_adversarial_added"] + summary["n_negatives_added"]
    assert summary["n_negatives_added"] == summary["n_adversarial_added"]  # one matched each
    assert _lines(project / "round-1" / "data-added.jsonl") == added  # each appears once
    trained = json.loads((project / "round-1" / "train.done.json").read_text())["n_train"]
    n_base = len(assign_splits(make_examples(24))["train"])
    # half the base train split + each adversarial example twice
    assert trained == round(n_base / 2) + 2 * added
    # every version is attacked from the same evaluation targets, flagged by v0
    targets = json.loads((project / "eval-targets.json").read_text())
    for r in range(3):
        for run, n in (("eval", 6), ("heldout", 4)):
            ids = [
                json.loads(x)["target_id"]
                for x in (project / f"round-{r}" / f"attack-{run}.jsonl").read_text().splitlines()
            ]
            assert ids == targets[:n]
    # and the external set's targets, flagged by v0, attacked in every version, to measure:
    # their results are neither trained on nor among the results aimed at a version
    external = json.loads((project / "external-targets.json").read_text())
    assert 0 < len(external) <= 3
    external_ids = {f"ext-{e.id}" for e in make_examples(6)}
    assert set(external) <= external_ids
    parents = set()
    for r in range(3):
        folder = project / f"round-{r}"
        for run, n in (("external", 3), ("heldout-external", 2)):
            lines = (folder / f"attack-{run}.jsonl").read_text().splitlines()
            assert [json.loads(x)["target_id"] for x in lines] == external[:n]
        for name in ("aimed.jsonl", "adversarial.jsonl"):
            rows = (folder / name).read_text().splitlines()
            parents |= {json.loads(x)["parent_id"] for x in rows}
    assert parents and not parents & external_ids
    for entry in report:
        assert entry["external_attack_targets"] == len(external)
        assert entry["heldout_external_attack_targets"] == min(2, len(external))
        assert 0 <= entry["external_attack_success_rate"] <= 1
    assert "attack success (external)" in html
    details = json.loads((project / "details.json").read_text())
    assert set(details["cross_round"]) == {"trained on", "evaluation only"}
    assert all(len(m["versions"]) == 3 for m in details["cross_round"].values())
    assert "kept" in (project / "report.html").read_text()
    # a rerun of a finished loop redoes nothing
    before = {p: p.stat().st_mtime for p in project.rglob("*.done.json")}
    _run(config)
    assert before == {p: p.stat().st_mtime for p in project.rglob("*.done.json")}
    # and the uninterrupted result is what the killed runs must match
    setup["plain_results"] = _results(project)  # type: ignore[assignment]


def test_killed_loop_resumes_to_the_same_result(setup: dict[str, Path]) -> None:
    if "plain_results" not in setup:
        pytest.skip("needs test_loop_artifacts_and_report first")
    config = _config(setup, "killed")
    project = setup["root"] / "killed"
    checkpoint = checkpoint_dir(project / "round-0" / "model") / STATE_FILE
    _kill_when(config, checkpoint.exists)  # after a training epoch, mid-training
    assert not (project / "round-0" / "train.done.json").exists()
    partial = project / "round-1" / "attack-train.jsonl"
    _kill_when(config, lambda: _lines(partial) >= 2)  # mid-attack
    assert not (project / "round-1" / "attack.done.json").exists()
    _run(config)
    assert _results(project) == setup["plain_results"]
