"""`highstakes data import|export|stats`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from highstakes.cli.errors import user_errors
from highstakes.cli.progress import console

app = typer.Typer(help="Import, export and count labeled examples.", no_args_is_help=True)

DATA_HELP = "'demo' for the shipped demo set, or a .jsonl, .csv, .parquet file or datasets folder."


@app.command("import")
def import_command(
    source: Path = typer.Argument(
        ..., metavar="SOURCE", help="File to import (.jsonl, .csv, .parquet or folder)."
    ),
    into: Path = typer.Option(..., "--into", help="Project data set (JSONL) to add to."),
    fmt: str = typer.Option(None, "--format", help="jsonl, csv, parquet or hf; default: suffix."),
    default_source: str = typer.Option(
        None, "--source", help="Source for rows without one (e.g. random, human-attack)."
    ),
) -> None:
    """Validate every row of SOURCE and add them to the data set INTO.

    Nothing is written unless every row is valid; errors name the file, line and field.
    Rows whose id is already in INTO are skipped, so importing twice changes nothing.
    """
    from highstakes.data.io import merge_into, read_examples
    from highstakes.data.records import Source

    with user_errors():
        src = Source(default_source) if default_source else None
        examples = read_examples(source, fmt, default_source=src)
        added, skipped = merge_into(into, examples)
    console.print(f"imported {added} example(s) into {into} ({skipped} already there)")


@app.command("export")
def export_command(
    out: Path = typer.Argument(
        ..., metavar="OUT", help="Output: .jsonl, .csv, .parquet, or a folder (datasets)."
    ),
    data: str = typer.Option("demo", "--data", help=DATA_HELP),
    fmt: str = typer.Option(None, "--format", help="jsonl, csv, parquet or hf; default: suffix."),
    split: str = typer.Option(None, "--split", help="Only this split: train, valid or test."),
) -> None:
    """Write a data set (or one split of it) to OUT."""
    from highstakes.data.demo import load_dataset
    from highstakes.data.io import write_examples
    from highstakes.data.splits import assign_splits

    with user_errors():
        examples = load_dataset(data)
        if split:
            parts = assign_splits(examples)
            if split not in parts:
                raise ValueError(f"unknown split {split!r}; choose train, valid or test")
            examples = parts[split]
        write_examples(out, examples, fmt)
    console.print(f"wrote {len(examples)} example(s) to {out}")


@app.command("stats")
def stats_command(
    data: str = typer.Option("demo", "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Count examples by label, split, source and genre."""
    from highstakes.data.demo import load_dataset
    from highstakes.data.stats import dataset_stats

    with user_errors():
        stats = dataset_stats(load_dataset(data))
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
        return
    console.print(f"{stats['n_examples']} examples, {stats['n_prompts']} distinct prompts")
    for key in ("label", "split", "source", "genre"):
        table = Table(title=f"by {key}")
        table.add_column(key)
        table.add_column("count", justify="right")
        for name, count in sorted(stats[key].items(), key=lambda kv: -kv[1]):
            table.add_row(name, str(count))
        console.print(table)
