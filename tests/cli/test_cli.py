"""The command line, run in-process with Typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from highstakes.cli.main import app
from highstakes.data.io import read_examples, write_examples
from highstakes.data.records import Example
from highstakes.models.classifier import Classifier

runner = CliRunner()


def test_every_command_explains_itself() -> None:
    for args in (
        ["--help"],
        ["train", "--help"],
        ["score", "--help"],
        ["data", "--help"],
        ["data", "import", "--help"],
        ["data", "stats", "--help"],
        ["demo", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_usage_names_arguments_as_the_help_text_does() -> None:
    # Typer prints an argument by its parameter name ("{source}") unless told otherwise,
    # where the docstrings say SOURCE
    for args, name in (
        (["data", "import", "--help"], "SOURCE"),
        (["data", "export", "--help"], "OUT"),
        (["studio", "add-user", "--help"], "USERNAME"),
        (["studio", "add-pairs", "--help"], "PATH"),
    ):
        usage = runner.invoke(app, args, terminal_width=100).output
        assert f"{{{name}}}" in usage and f"{{{name.lower()}}}" not in usage, usage


def test_help_flows_instead_of_keeping_docstring_line_breaks() -> None:
    # Typer's rich help keeps a docstring's line breaks, in a command list and in a
    # command's own help; each paragraph flows instead (on a terminal wide enough for it,
    # all on one line)
    from highstakes.cli.main import generate, head, score

    for args, command, paragraph in (
        (["--help"], generate.generate_command, 0),
        (["head", "--help"], head.train_command, 0),
        (["score", "--help"], score.score_command, 1),
    ):
        result = runner.invoke(app, args, env={"COLUMNS": "600"})
        assert result.exit_code == 0, args
        text = " ".join((command.__doc__ or "").split("\n\n")[paragraph].split())
        assert text.count(" ") > 20  # a paragraph written over several lines
        assert any(text in line for line in result.output.splitlines()), result.output


def test_paths_in_messages_are_printed_as_written(tmp_path: Path) -> None:
    # rich would read "[test]" as a style tag and drop it
    out = tmp_path / "[test] split.jsonl"
    result = runner.invoke(app, ["data", "export", str(out), "--split", "test"])
    assert result.exit_code == 0, result.output
    assert "[test] split.jsonl" in result.output.replace("\n", "")


def test_stats_json_counts_the_demo_set() -> None:
    result = runner.invoke(app, ["data", "stats", "--json"])
    assert result.exit_code == 0
    stats = json.loads(result.stdout)
    assert set(stats) >= {"label", "split", "source", "genre"}
    assert sum(stats["label"].values()) == stats["n_examples"]


def test_import_export_round_trip(tmp_path: Path, examples: list[Example]) -> None:
    src = write_examples(tmp_path / "in.csv", examples)
    project = tmp_path / "project.jsonl"
    result = runner.invoke(app, ["data", "import", str(src), "--into", str(project)])
    assert result.exit_code == 0, result.output
    assert f"imported {len(examples)}" in result.output
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["data", "export", str(out), "--data", str(project)])
    assert result.exit_code == 0, result.output
    assert [e.id for e in read_examples(out)] == [e.id for e in examples]


def test_import_of_bad_file_fails_clearly_and_changes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"prompt": "A. B. C.", "completion": "D.", "label": "yes"}\n'
        '{"prompt": "A. B. C.", "completion": "E.", "label": "kinda"}\n'
    )
    project = tmp_path / "project.jsonl"
    result = runner.invoke(
        app, ["data", "import", str(bad), "--into", str(project), "--source", "random"]
    )
    assert result.exit_code == 2
    assert "bad.jsonl, line 2, field 'label'" in result.output
    assert not project.exists()


def test_export_one_split_of_the_demo(tmp_path: Path) -> None:
    out = tmp_path / "test.jsonl"
    result = runner.invoke(app, ["data", "export", str(out), "--split", "test"])
    assert result.exit_code == 0, result.output
    assert {e.split for e in read_examples(out)} == {"test"}


def test_train_then_score(tiny_model_dir: Path, tmp_path: Path, examples: list[Example]) -> None:
    data = write_examples(tmp_path / "d.jsonl", examples)
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(data),
            "--model",
            str(tiny_model_dir),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--max-length",
            "64",
            "--select",
            "high_recall_auroc",
            "--weight-average",
            "0.9",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "AUROC" in result.output
    saved = Classifier.from_pretrained(out).metadata["config"]
    assert saved["select"] == "high_recall_auroc" and saved["weight_average"] == 0.9
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["test"]["auroc"] <= 1
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["model"]  # no checkpoint
    assert not list(out.rglob("*.pt"))  # no optimizer state in the model folder

    one = runner.invoke(
        app, ["score", "--model", str(out), "--prompt", "A. B. C.", "--completion", "He fell."]
    )
    assert one.exit_code == 0, one.output
    probability = float(one.stdout.split()[0])
    assert probability == pytest.approx(
        Classifier.from_pretrained(out).score_one("A. B. C.", "He fell."), abs=1e-6
    )

    scored = tmp_path / "scored.jsonl"
    many = runner.invoke(
        app, ["score", "--model", str(out), "--file", str(data), "--out", str(scored)]
    )
    assert many.exit_code == 0, many.output
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    assert len(rows) == len(examples) and all(0 <= r["score"] <= 1 for r in rows)


def test_train_starts_from_a_loop_configs_train_section(
    tiny_model_dir: Path, tmp_path: Path, examples: list[Example]
) -> None:
    data = write_examples(tmp_path / "d.jsonl", examples)
    config = tmp_path / "loop.toml"
    config.write_text(
        f"data = '{data}'\nseed = 4\n"
        f"[train]\nmodel = '{tiny_model_dir}'\nepochs = 3\nmax_length = 64\n"
        "select = 'high_recall_auroc'\nweight_average = 0.9\n"
        "[train.lat_config]\nsteps = 2\n"
    )
    out = tmp_path / "model"
    # the config's settings, data and seed, with the options given put over them
    args = ["train", "--config", str(config), "--out", str(out), "--epochs", "1"]
    result = runner.invoke(app, [*args, "--lat-radius", "0.05"])
    assert result.exit_code == 0, result.output
    saved = Classifier.from_pretrained(out).metadata["config"]
    assert (saved["select"], saved["weight_average"], saved["max_length"]) == (
        "high_recall_auroc",
        0.9,
        64,
    )
    assert (saved["epochs"], saved["seed"]) == (1, 4)
    assert (saved["lat_config"]["steps"], saved["lat_config"]["radius"]) == (2, 0.05)
    assert json.loads((out / "history.json").read_text())  # trained on the config's data

    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nepochs = 0\n")
    refused = runner.invoke(app, ["train", "--config", str(bad), "--out", str(tmp_path / "b")])
    assert refused.exit_code != 0
    assert "[train]: epochs must be a whole number >= 1, got 0" in refused.output
    assert not (tmp_path / "b").exists()


def test_demo_writes_its_configuration_to_start_from(tmp_path: Path) -> None:
    from highstakes.loop.config import demo_config, load_config

    path = tmp_path / "loop.toml"
    result = runner.invoke(app, ["demo", "--write-config", str(path)])
    assert result.exit_code == 0, result.output
    assert load_config(path) == demo_config()  # the same settings, read as a loop config
    assert "# " in path.read_text()  # with the comments that say why
    path.write_text("mine")
    again = runner.invoke(app, ["demo", "--write-config", str(path)])
    assert again.exit_code == 2 and "exists; nothing was written" in again.output
    assert path.read_text() == "mine"


def test_train_refuses_an_unknown_selection_figure(
    tiny_model_dir: Path, tmp_path: Path, examples: list[Example]
) -> None:
    data = write_examples(tmp_path / "d.jsonl", examples)
    args = ["train", "--data", str(data), "--model", str(tiny_model_dir), "--out"]
    result = runner.invoke(app, [*args, str(tmp_path / "model"), "--select", "accuracy"])
    assert result.exit_code != 0
    assert "select must be one of auroc, high_recall_auroc, got 'accuracy'" in result.output
    assert not (tmp_path / "model").exists()


def test_score_names_a_bad_line_of_its_file(tiny_model_dir: Path, tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"prompt": "A. B. C.", "completion": "D."}\n\n["E."]\n{"prompt": "F."}\n')
    result = runner.invoke(app, ["score", "--model", str(tiny_model_dir), "--file", str(rows)])
    assert result.exit_code != 0
    output = " ".join(result.output.split())
    assert "rows.jsonl, line 3: each line must be a JSON object" in output
    assert "rows.jsonl, line 4, field 'completion': missing or empty" in output


def test_score_needs_a_snippet(tiny_model_dir: Path) -> None:
    result = runner.invoke(app, ["score", "--model", str(tiny_model_dir)])
    assert result.exit_code == 2
    assert "give --prompt and --completion, or --file" in result.output


def test_missing_model_folder_is_reported(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["score", "--model", str(tmp_path / "nope"), "--prompt", "A.", "--completion", "B."]
    )
    assert result.exit_code != 0
    assert "error" in result.output.lower() or result.exception is not None


def test_attack_writes_unsure_results_and_metrics(tmp_path: Path, tiny_model_dir: Path) -> None:
    from highstakes.models.classifier import Classifier
    from tests.attacks.conftest import build_tiny_lm
    from tests.conftest import make_examples

    lm_dir = build_tiny_lm(tmp_path / "lm")
    examples = make_examples(8)
    data = write_examples(tmp_path / "d.jsonl", examples)
    scores = Classifier.from_pretrained(tiny_model_dir).score(
        [e.snippet for e in examples if e.label.value == "yes"]
    )
    threshold = str(float(sorted(scores)[2]))  # a few injurious ones flagged, some beaten
    out = tmp_path / "attacks.jsonl"
    args = [
        "attack",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(data),
        "--n",
        "3",
        "--out",
        str(out),
        "--budget",
        "30",
        "--threshold",
        threshold,
        "--generator",
        str(lm_dir),
        "--encoder",
        str(tiny_model_dir),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "success rate" in result.output and "must confirm" in result.output
    metrics = json.loads(Path(str(out) + ".metrics.json").read_text())
    assert metrics["attempted"] == 3 and metrics["queries"] <= 90
    rows = read_examples(out)
    assert len(rows) == metrics["succeeded"]
    assert all(r.label.value == "unsure" and r.tags["pending_labeler"] == "human" for r in rows)
    # every target's queries, the failed searches' too, and the results each found
    lines = Path(str(out) + ".attempts.jsonl").read_text().splitlines()
    attempts = [json.loads(line) for line in lines]
    assert len(attempts) == 3 and sum(a["queries"] for a in attempts) == metrics["queries"]
    assert {a["recipe"] for a in attempts} == {"typos"}
    assert {key for a in attempts for key in a["found"]} == {r.id for r in rows}


def test_attack_refuses_an_unknown_recipe(tiny_model_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "attack",
            "--model",
            str(tiny_model_dir),
            "--recipe",
            "magic",
            "--out",
            str(tmp_path / "x.jsonl"),
        ],
    )
    assert result.exit_code == 2 and "unknown recipe 'magic'" in result.output


def test_attack_checks_who_confirms_before_attacking(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    args = ["attack", "--model", str(tiny_model_dir), "--out", str(out)]
    result = runner.invoke(app, [*args, "--confirm-with", "kept"])
    assert result.exit_code == 2 and "--confirm-with 'kept': choose human" in result.output
    assert "attacking" not in result.output and not out.exists()  # refused before any work
    result = runner.invoke(app, [*args, "--threshold", "1.5"])
    assert result.exit_code == 2 and "--threshold" in result.output and not out.exists()


def test_progress_in_a_log_is_one_line_per_phase() -> None:
    from highstakes.cli.progress import console, progress_bar

    assert not console.is_terminal  # pytest captures the output, like a log file
    with console.capture() as captured, progress_bar() as update:
        for done in range(1, 6):
            update("epoch 1/2", done, 5)
        update("epoch 1/2: train loss 0.5", 1, 1)
        update("round 0: train", 0, 1)
    lines = captured.get().splitlines()
    assert len(lines) == 2  # the unfinished stage says nothing yet
    assert lines[0].split(" ", 1)[1] == "epoch 1/2 5/5"  # after the time of day; under 0.5 s
    assert lines[1].endswith("epoch 1/2: train loss 0.5")
