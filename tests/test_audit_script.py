"""scripts/audit.py's figures: which files are recipe audits, and the bar they are held to."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "audit.py"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scripts_audit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_rows(labels: list[str]) -> list[dict]:
    return [{"recipe": "typos", "label": label, "reader": "a reader"} for label in labels]


def test_only_recipe_audits_are_scored_by_default(audit: ModuleType, tmp_path: Path) -> None:
    recipe = write(tmp_path / "typos.jsonl", read_rows(["yes"] * 60))
    write(tmp_path / "menu-fluency.jsonl", [{"word": "shattering", "grammatical": "yes"}])
    assert audit.recipe_audits(tmp_path) == [recipe]


@pytest.mark.parametrize(
    ("labels", "passes"),
    [
        (["yes"] * 60, True),
        (["yes"] * 59, False),  # too few read
        (["yes"] * 54 + ["no"] * 3 + ["unsure"] * 3, True),  # 90%: the bar itself
        (["yes"] * 53 + ["no"] * 3 + ["unsure"] * 4, False),  # unsure counts against
        (["yes"] * 60 + [None] * 5, True),  # unread rows are reported, not counted
    ],
)
def test_the_bar(audit: ModuleType, tmp_path: Path, labels: list, passes: bool) -> None:
    path = write(tmp_path / "typos.jsonl", read_rows(labels))
    assert audit.score([path]) is passes


def test_an_empty_file_is_not_a_recipe_audit(audit: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    assert audit.recipe_audits(tmp_path) == []


def test_an_external_attack_needs_an_external_set(audit: ModuleType, tmp_path: Path) -> None:
    """`attack --split external` on a loop without an external set stops before loading any
    model, naming the project."""
    import argparse

    from highstakes.loop.config import parse_config

    (tmp_path / "config.json").write_text(json.dumps({"project": str(tmp_path), "data": "demo"}))
    recipe = parse_config({"project": str(tmp_path)}).attack.recipe
    args = argparse.Namespace(
        project=str(tmp_path), recipe=recipe, round=0, n=5, split="external",
        config=None, out=str(tmp_path / "out.jsonl"),
    )  # fmt: skip
    with pytest.raises(SystemExit, match="names no external set"):
        audit.attack(args)
    assert not (tmp_path / "out.jsonl").exists()
