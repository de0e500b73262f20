"""Which snippets `highstakes score` sends to the light scorer (models/light.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from highstakes.cli.main import app
from highstakes.cli.score import LIGHT_MAX_SNIPPETS
from highstakes.models import light

runner = CliRunner()


@pytest.fixture
def light_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many pairs each light_scores call got; it answers None (no light path), so the
    command goes on to the torch classifier and nothing is exported."""
    calls: list[int] = []

    def no_light(folder: object, pairs: Sequence[tuple[str, str]], **_: object) -> None:
        calls.append(len(pairs))

    monkeypatch.setattr(light, "light_scores", no_light)
    return calls


def write_rows(path: Path, n: int) -> Path:
    rows = [{"prompt": f"Tom {i} went out.", "completion": "He fell."} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_one_snippet_and_a_few_rows_try_the_light_scorer(
    studio_model: Path, tmp_path: Path, light_calls: list[int]
) -> None:
    one = runner.invoke(
        app, ["score", "--model", str(studio_model), "--prompt", "A. B.", "--completion", "C."]
    )
    assert one.exit_code == 0, one.output
    assert "threshold 0.5" in one.stdout  # scored by torch after the light path declined
    few = write_rows(tmp_path / "few.jsonl", LIGHT_MAX_SNIPPETS)
    result = runner.invoke(app, ["score", "--model", str(studio_model), "--file", str(few)])
    assert result.exit_code == 0, result.output
    assert light_calls == [1, LIGHT_MAX_SNIPPETS]


def test_many_rows_and_no_light_load_torch_directly(
    studio_model: Path, tmp_path: Path, light_calls: list[int]
) -> None:
    many = write_rows(tmp_path / "many.jsonl", LIGHT_MAX_SNIPPETS + 1)
    result = runner.invoke(app, ["score", "--model", str(studio_model), "--file", str(many)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == LIGHT_MAX_SNIPPETS + 1
    args = ["score", "--no-light", "--model", str(studio_model), "--prompt", "A.", "--completion"]
    assert runner.invoke(app, [*args, "B."]).exit_code == 0
    assert light_calls == []
