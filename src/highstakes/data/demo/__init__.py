"""The demo data set shipped inside the package (see DATASHEET.md beside this file)."""

from __future__ import annotations

from pathlib import Path

from highstakes.data.io import read_examples
from highstakes.data.records import Example

DEMO_FILE = Path(__file__).parent / "demo.jsonl"
DATASHEET = Path(__file__).parent / "DATASHEET.md"
DEMO_NAME = "demo"  # what `--data demo` means on the command line


def load_demo() -> list[Example]:
    """All demo examples; each carries a fixed `split` (train, valid or test)."""
    return read_examples(DEMO_FILE, "jsonl")


def load_dataset(name: str | Path) -> list[Example]:
    """`demo` for the shipped set, else a path to a JSONL, CSV, Parquet or datasets folder."""
    return load_demo() if str(name) == DEMO_NAME else read_examples(name)
