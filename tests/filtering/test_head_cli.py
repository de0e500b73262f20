"""`highstakes head train` and `highstakes generate --filter head|classifier|both` on the
tiny Llama and the tiny BERT."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from highstakes.cli.generate import filter_plan
from highstakes.cli.main import app
from highstakes.data.io import write_examples
from tests.conftest import make_examples

runner = CliRunner()
PROMPT = "The knight rode into the valley. The wind was cold."


@pytest.fixture(scope="module")
def head_dir(tiny_lm_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("head-cli")
    data = write_examples(root / "data.jsonl", make_examples(30))
    out = root / "head"
    args = ["head", "train", "--data", str(data), "--generator", str(tiny_lm_folder)]
    with pytest.MonkeyPatch.context() as patch:  # features not left in the user's cache
        patch.setattr("highstakes.filtering.features.cache_root", lambda: root / "cache")
        result = runner.invoke(
            app, [*args, "--out", str(out), "--layers", "1,2", "--min-tokens", "2"]
        )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["layers"] == [1, 2] and summary["pooling"] == "mean+max"
    assert summary["valid_recall"] >= 0.95
    return out


def test_filter_plan_words_folders_and_mistakes(tmp_path: Path) -> None:
    head, clf = tmp_path / "h", tmp_path / "c"
    assert filter_plan("both", head, clf) == ("both", head, clf)
    assert filter_plan(None, head, None) == ("head", head, None)
    assert filter_plan(None, None, None) == (None, None, None)
    assert filter_plan(str(tmp_path), None, None) == ("classifier", None, tmp_path)  # old form
    with pytest.raises(ValueError, match="must be head, classifier or both"):
        filter_plan("heads", None, None)
    with pytest.raises(ValueError, match="needs --head FOLDER"):
        filter_plan("both", None, clf)
    with pytest.raises(ValueError, match="needs --classifier FOLDER"):
        filter_plan("classifier", None, None)
    with pytest.raises(ValueError, match="only read with --filter head or both"):
        filter_plan("classifier", head, clf)


def test_generate_with_the_head_reports_its_cost(head_dir: Path, tiny_lm_folder: Path) -> None:
    args = ["generate", "--prompt", PROMPT, "--generator", str(tiny_lm_folder)]
    result = runner.invoke(app, [*args, "--filter", "head", "--head", str(head_dir), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    report = payload["report"]
    (row,) = payload["completions"]
    assert report["n_samples"] == row["n_samples"] >= 1
    assert report["head"]["n_input_tokens"] >= 0 and report["classifier"]["n_calls"] == 0
    assert report["head_threshold"] == json.loads((head_dir / "head.json").read_text())["threshold"]
    # threshold ~0: the head stops every sample, so the fallback comes back
    stop_all = ["--head-threshold", "1e-9", "--tries", "3", "--fallback", "Nothing."]
    result = runner.invoke(app, [*args, "--head", str(head_dir), *stop_all, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["completions"][0]["completion"] == "Nothing."
    assert payload["report"]["n_head_rejected"] == 3 and payload["report"]["n_samples"] == 3


def test_generate_with_both_runs_the_classifier_on_what_the_head_let_through(
    head_dir: Path, tiny_lm_folder: Path, tiny_model_dir: Path
) -> None:
    args = ["generate", "--prompt", PROMPT, "--generator", str(tiny_lm_folder), "--tries", "8"]
    both = ["--filter", "both", "--head", str(head_dir), "--classifier", str(tiny_model_dir)]
    result = runner.invoke(app, [*args, *both, "--head-threshold", "1", "--threshold", "1"])
    assert result.exit_code == 0, result.output
    assert "classifier/generator wall time" in result.output
    assert "head/generator wall time" in result.output


def test_head_errors_are_clear(head_dir: Path, tiny_lm_folder: Path, tmp_path: Path) -> None:
    base = ["generate", "--prompt", PROMPT, "--filter", "head", "--head"]
    result = runner.invoke(app, [*base, str(head_dir), "--generator", "http://localhost:1"])
    assert result.exit_code == 2 and "needs a local generator" in result.output
    result = runner.invoke(app, [*base, str(tmp_path), "--generator", str(tiny_lm_folder)])
    assert result.exit_code == 2 and "not a head folder" in result.output
    other = shutil.copytree(tiny_lm_folder, tmp_path / "other-lm")
    result = runner.invoke(app, [*base, str(head_dir), "--generator", str(other)])
    assert result.exit_code == 2 and "reads the states of" in result.output
    result = runner.invoke(app, ["generate", "--prompt", PROMPT, "--filter", "nothing"])
    assert result.exit_code == 2 and "must be head, classifier or both" in result.output
    train = ["head", "train", "--out", str(tmp_path / "h"), "--layers"]
    result = runner.invoke(app, [*train, "0"])
    assert result.exit_code == 2 and "distinct and at least 1" in result.output
    result = runner.invoke(app, [*train, "12;18"])
    assert result.exit_code == 2 and "separated by commas" in result.output
    assert not (tmp_path / "h").exists()
