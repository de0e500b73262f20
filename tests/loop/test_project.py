"""A project folder resumes only the run it holds."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from highstakes.cli.main import app
from highstakes.data.io import write_examples
from highstakes.data.records import Example
from highstakes.loop.config import demo_config
from highstakes.loop.project import check_resumable, settings_changed, settings_of

runner = CliRunner()


def _saved(config: Any) -> dict[str, Any]:
    return settings_of(config)


def test_a_project_run_with_other_settings_is_not_resumed(tmp_path: Path) -> None:
    config = demo_config()
    check_resumable(tmp_path, _saved(config))  # nothing there yet: a fresh run
    (tmp_path / "config.json").write_text(json.dumps(_saved(config)))
    check_resumable(tmp_path, _saved(config))  # the same run, resumed
    longer = replace(config, rounds=4, project="elsewhere")  # more rounds extend the run
    check_resumable(tmp_path, _saved(longer))
    moved = replace(config, studio=replace(config.studio, database_url="postgresql://x/y"))
    check_resumable(tmp_path, _saved(moved))  # the studio's database moved
    other = replace(config, train=replace(config.train, epochs=7), seed=5)
    with pytest.raises(ValueError, match=r"other settings \(seed 0 -> 5; train.epochs 6 -> 7\)"):
        check_resumable(tmp_path, _saved(other))


def test_settings_only_one_version_has_are_not_a_change() -> None:
    before = {"train": {"epochs": 6}, "rounds": 2}
    now = {"train": {"epochs": 6, "focal_gamma": 0.0}, "rounds": 3}  # a newer highstakes
    assert settings_changed(before, now) == []
    assert settings_changed(before, {"train": {"epochs": 5}}) == ["train.epochs 6 -> 5"]


def test_loop_check_reads_everything_a_run_would_and_writes_nothing(
    tmp_path: Path, examples: list[Example]
) -> None:
    data = write_examples(tmp_path / "d.jsonl", examples)
    project = tmp_path / "project"
    config = tmp_path / "loop.toml"
    config.write_text(f"project = '{project}'\ndata = '{data}'\n[train]\nepochs = 2\n")
    args = ["loop", "--config", str(config), "--check"]
    fresh = runner.invoke(app, args)
    assert fresh.exit_code == 0, fresh.output
    shown = json.loads(fresh.stdout)  # the settings alone on stdout
    assert shown["train"]["epochs"] == 2 and shown["retrain"]["adversarial_repeat"] == 1
    assert f"data: {len(examples)} examples" in fresh.output
    assert "new" in fresh.output.splitlines()[-1] and not project.exists()

    (project / "round-0").mkdir(parents=True)
    (project / "config.json").write_text(json.dumps(shown))
    (project / "round-0" / "train.done.json").write_text("{}")
    (project / "round-0.bak").mkdir()  # a copy someone kept is not a round
    (project / "round-0.bak" / "train.done.json").write_text("{}")
    resumed = runner.invoke(app, args)
    assert "finished stages 1 (the last: round-0/train)" in resumed.output

    config.write_text(f"project = '{project}'\ndata = '{data}'\n[train]\nepochs = 3\n")
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "train.epochs 2 -> 3" in refused.output
    config.write_text(f"project = '{tmp_path / 'p2'}'\ndata = '{tmp_path / 'none.jsonl'}'\n")
    missing = runner.invoke(app, args)
    assert missing.exit_code == 2 and "none.jsonl" in missing.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl", "loop.toml", "project"]


def test_loop_check_of_the_demo_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # its project folder, runs/demo, is not this checkout's
    shown = runner.invoke(app, ["loop", "--config", "demo", "--check"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == settings_of(demo_config())
    assert "project runs/demo: new" in shown.output and not (tmp_path / "runs").exists()


def test_a_saved_classifier_is_named_as_the_loop_names_it() -> None:
    from highstakes.loop.project import version_name

    assert version_name(Path("runs/demo/round-2/model"), {}) == "v2"
    assert version_name(Path("runs/demo/round-2.bak/model"), {}) == "round-2.bak"
    assert version_name(Path("runs/minilm"), {}) == "minilm"
    assert version_name(Path("."), {}) == "."
    assert version_name(Path("runs/demo/round-2/model"), {"version": "prod-7"}) == "prod-7"
