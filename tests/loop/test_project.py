"""A project folder resumes only the run it holds."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from highstakes.loop.config import demo_config
from highstakes.loop.project import check_resumable, settings_changed


def _saved(config: Any) -> dict[str, Any]:
    saved: dict[str, Any] = json.loads(json.dumps(asdict(config), default=str))
    return saved


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
