"""The data sets shipped inside the package: the demo set (`demo`, see DATASHEET.md
beside this file) and the external test set (`external`, see ../external/DATASHEET.md),
written apart from the demo set and never trained or tuned on."""

from __future__ import annotations

from pathlib import Path

from highstakes.data.io import read_examples
from highstakes.data.records import Example

DEMO_FILE = Path(__file__).parent / "demo.jsonl"
DATASHEET = Path(__file__).parent / "DATASHEET.md"
DEMO_NAME = "demo"  # what `--data demo` means on the command line
EXTERNAL_FILE = Path(__file__).parent.parent / "external" / "external.jsonl"
EXTERNAL_DATASHEET = EXTERNAL_FILE.parent / "DATASHEET.md"
EXTERNAL_NAME = "external"  # what `--external external` means


def load_demo() -> list[Example]:
    """All demo examples; each carries a fixed `split` (train, valid or test)."""
    return read_examples(DEMO_FILE, "jsonl")


def load_external() -> list[Example]:
    """The external test set: every example is for testing only (no `split`)."""
    return read_examples(EXTERNAL_FILE, "jsonl")


def load_dataset(name: str | Path) -> list[Example]:
    """`demo` or `external` for a shipped set, else a path to a JSONL, CSV, Parquet or
    datasets folder."""
    if str(name) == DEMO_NAME:
        return load_demo()
    if str(name) == EXTERNAL_NAME:
        return load_external()
    return read_examples(name)
