"""`highstakes generate` against the stand-in completions server and the tiny BERT."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from highstakes.cli.main import app
from tests.filtering.servers import server_url

__all__ = ["server_url"]  # the fixture, imported for pytest
runner = CliRunner()
PROMPT = "The knight rode into the valley. The wind was cold. He saw a light."


def test_unfiltered_samples_one_line_each(server_url: str) -> None:
    result = runner.invoke(
        app, ["generate", "--prompt", PROMPT, "--n", "2", "--generator", server_url]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["Sample 0-0 ran home.", "Sample 1-0 ran home."]


def test_filtered_json_reports_costs(server_url: str, tiny_model_dir: Path) -> None:
    args = [
        "generate",
        "--prompt",
        PROMPT,
        "--generator",
        server_url,
        "--filter",
        str(tiny_model_dir),
    ]
    result = runner.invoke(app, [*args, "--threshold", "1", "--batch", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    (row,) = payload["completions"]
    assert row["accepted"] and row["completion"] == "Sample 0-0 ran home."
    report = payload["report"]
    assert report["n_samples"] == 3 and report["n_unusable"] == 1 and report["rejection_rate"] == 0
    assert (
        report["classifier"]["flops"] > 0 and report["generator"]["flops"] is None
    )  # unknown size


def test_filtered_falls_back_when_everything_is_rejected(
    server_url: str, tiny_model_dir: Path
) -> None:
    args = [
        "generate",
        "--prompt",
        PROMPT,
        "--generator",
        server_url,
        "--filter",
        str(tiny_model_dir),
    ]
    result = runner.invoke(
        app,
        [
            *args,
            "--threshold",
            "1e-9",
            "--tries",
            "4",
            "--fallback",
            "Nothing happened.",
            "--generator-params",
            "1e6",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Nothing happened.  [fallback]" in result.stdout
    assert "samples per accepted completion" in result.output and "inf" in result.output


def test_empty_prompt_is_a_clear_error() -> None:
    result = runner.invoke(app, ["generate", "--prompt", " "])
    assert result.exit_code == 2 and "must not be empty" in result.output
