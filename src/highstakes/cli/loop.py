"""`highstakes loop` and `highstakes demo` (the loop on the embedded defaults)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from highstakes.cli.errors import user_errors
from highstakes.cli.progress import console, progress_bar


def _run(config: Any) -> None:
    from highstakes.loop import report
    from highstakes.loop.rounds import Loop

    t0 = time.perf_counter()
    with progress_bar() as update:
        loop = Loop(config, progress=update)
        rounds = loop.run()
        paths = report.write(config, loop, rounds)
    table = Table(
        title=f"adversarial training loop ({config.rounds} rounds after the baseline)",
        box=box.SIMPLE,
    )
    rows = report.table_rows(rounds)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    for matrix_table in _matrix_tables(paths["details"]):
        console.print(matrix_table)
    console.print(
        f"Labeler of attack results: [bold]{escape(config.label.labeler)}[/bold]", markup=True
    )
    for warning in [report.warning_for(config.label.labeler), *report.external_warnings(rounds)]:
        if warning:
            console.print(
                f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, markup=True
            )
    console.print(
        f"Report: {paths['html']} and {paths['json']}  ({time.perf_counter() - t0:.0f} s)",
        highlight=False,
    )


def _matrix_tables(details: Path) -> list[Table]:
    """The cross-round matrices (evaluation-only examples, then trained-on ones): share of
    the examples aimed at each version (columns) that each version (rows) still flags."""
    import json

    tables = []
    for name, matrix in json.loads(details.read_text())["cross_round"].items():
        table = Table(title=f"cross-round matrix, {name}: share still caught (n aimed)")
        table.box = box.SIMPLE
        table.add_column("version")
        for target, n in zip(matrix["targets"], matrix["n_examples"], strict=True):
            table.add_column(f"aimed at {target} ({n})")
        for version, row in zip(matrix["versions"], matrix["caught_rate"], strict=True):
            table.add_row(version, *("-" if x is None else f"{x:.0%}" for x in row))
        tables.append(table)
    return tables


def _check(config: Any) -> None:
    """What the loop checks before it starts (the settings, the data sets, whether the
    project folder may be resumed), then the settings it would run with, defaults
    included, and what the folder already holds."""
    import json

    from highstakes.data.demo import load_dataset
    from highstakes.loop.project import check_resumable, finished_stages, settings_of

    settings = settings_of(config)
    n_data = len(load_dataset(config.data))
    n_external = len(load_dataset(config.external)) if config.external else 0
    root = Path(config.project)
    check_resumable(root, settings)
    typer.echo(json.dumps(settings, indent=2))  # alone on stdout: `> settings.json` keeps it
    console.print(f"data: {n_data} examples; external set: {n_external}")
    done = finished_stages(root)
    console.print(
        f"project {root}: "
        + (
            f"finished stages {len(done)} (the last: {done[-1]}); a run resumes after them"
            if done
            else "new"
        )
    )


def loop_command(
    config: str = typer.Option(
        ..., "--config", help="Loop configuration: a TOML file, or 'demo' for the demo's."
    ),
    check: bool = typer.Option(
        False,
        "--check",
        help="Check the configuration, data and project folder as a run would, print the "
        "settings it would use (defaults included) and what the folder holds, and stop.",
    ),
) -> None:
    """Rounds of train -> calibrate -> evaluate -> attack -> label -> retrain.  Every
    artifact is kept per round under the config's project folder; a killed run resumes
    where it stopped and a finished stage is never redone."""
    from highstakes.loop.config import read_config

    with user_errors():
        (_check if check else _run)(read_config(config))


def demo_command(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Project folder for the demo."),
    write_config: Path = typer.Option(
        None,
        "--write-config",
        help="Write the demo's configuration, with its comments, to this file and stop: a "
        "start for your own `highstakes loop --config`.",
    ),
) -> None:
    """The loop on the embedded defaults (MiniLM classifier, demo data, automatic attacks):
    a baseline and two adversarial rounds, with a report."""
    from highstakes.loop.config import DEMO_TOML, demo_config

    if write_config is not None:
        with user_errors():
            if write_config.exists():
                raise ValueError(f"{write_config} exists; nothing was written")
            write_config.write_text(DEMO_TOML.read_text(encoding="utf-8"), encoding="utf-8")
        console.print(f"wrote the demo's configuration to {write_config}")
        return
    config = demo_config()
    config.project = str(out)
    with user_errors():
        _run(config)
