"""Read and write examples as JSONL, CSV, Parquet and Hugging Face `datasets` folders.

Reading is all-or-nothing: every row is validated first and any problem raises a
`DataError` naming the file, the line (or row) and the field, so nothing is imported
partially.  Writing goes to a temporary file that is renamed into place, so a crash
never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from highstakes.data.jsonl import JsonlError, iter_jsonl
from highstakes.data.records import SPLITS, Example, Label, Provenance, Snippet, Source

MAX_LINE_BYTES = 1_000_000  # one snippet is a few hundred bytes; a 1 MB line is an error
MAX_TEXT_CHARS = 20_000
MAX_PROBLEMS_SHOWN = 20
FORMATS = ("jsonl", "csv", "parquet", "hf")
REQUIRED_FIELDS = ("prompt", "completion", "label")
CSV_COLUMNS = (
    "id",
    "prompt",
    "completion",
    "label",
    "source",
    "round",
    "target_version",
    "author",
    "labelers",
    "seconds_spent",
    "parent_id",
    "created_at",
    "genre",
    "split",
    "tags",
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one row of an input file."""

    file: str
    line: int
    field: str | None
    message: str

    @classmethod
    def of_line(cls, error: JsonlError) -> Problem:
        """A bad line of a JSONL file, as a problem of that file."""
        return cls(error.path.name, error.line, None, error.message)

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


class DataError(ValueError):
    """Raised when input data is invalid; `problems` lists every row that is wrong."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"{len(problems)} problem(s) in input; none of it was used:\n{shown}{tail}"
        )


def detect_format(path: Path, fmt: str | None = None) -> str:
    """The format named by `fmt`, else the one implied by the path's suffix."""
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".parquet"):
        return suffix[1:]
    if path.is_dir() or suffix == "":
        return "hf"
    raise ValueError(
        f"cannot tell the format of {path} from its suffix {suffix!r}; "
        f"use .jsonl, .csv, .parquet or a folder (Hugging Face datasets), or pass --format"
    )


def _text(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if value is None:
        raise _FieldError(name, "missing (every row needs prompt, completion and label)")
    if not isinstance(value, str):
        raise _FieldError(name, f"must be text, got {type(value).__name__}")
    if not value.strip():
        raise _FieldError(name, "is empty")
    if len(value) > MAX_TEXT_CHARS:
        raise _FieldError(name, f"is {len(value)} characters long (limit {MAX_TEXT_CHARS})")
    return value.strip()


def _optional_str(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _FieldError(name, f"must be text, got {type(value).__name__}")
    return value


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _enum(row: dict[str, Any], name: str, kind: type[Label] | type[Source], default: Any) -> Any:
    value = row.get(name)
    if value is None or value == "":
        if default is None:
            raise _FieldError(name, "missing")
        return default
    try:
        return kind(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise _FieldError(name, f"unknown value {value!r} (expected one of: {allowed})") from None


def _number(row: dict[str, Any], name: str, kind: type[int] | type[float]) -> Any:
    value = row.get(name)
    if value is None or value == "":
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise _FieldError(name, f"must be a number, got {value!r}") from None
    if number < 0:
        raise _FieldError(name, f"must not be negative, got {value!r}")
    return number


def _labelers(row: dict[str, Any]) -> tuple[str, ...]:
    value = row.get("labelers")
    if value is None or value == "":
        return ()
    if isinstance(value, str):  # CSV: "alice|bob"
        return tuple(v for v in value.split("|") if v)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _FieldError("labelers", "must be a list of names (or 'a|b' in CSV)")


def _tags(row: dict[str, Any]) -> dict[str, str]:
    value = row.get("tags")
    if value is None or value == "":
        return {}
    if isinstance(value, str):  # CSV stores the object as JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise _FieldError("tags", "must be a JSON object") from None
    if not isinstance(value, dict):
        raise _FieldError("tags", "must be an object of text values")
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _created_at(row: dict[str, Any]) -> datetime | None:
    value = row.get("created_at")
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise _FieldError("created_at", f"not an ISO 8601 time: {value!r}") from None


def parse_record(row: dict[str, Any], default_source: Source | None = None) -> Example:
    """Validate one flat record and build an `Example`; raises `_FieldError` on bad fields."""
    snippet = Snippet(_text(row, "prompt"), _text(row, "completion"))
    label = _enum(row, "label", Label, None)
    source = _enum(row, "source", Source, default_source)
    split = _optional_str(row, "split")
    if split is not None and split not in SPLITS:
        raise _FieldError("split", f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    rnd = _number(row, "round", int)
    created = _created_at(row)
    provenance = Provenance(
        source=source,
        round=rnd or 0,
        target_version=_optional_str(row, "target_version"),
        author=_optional_str(row, "author"),
        labelers=_labelers(row),
        seconds_spent=_number(row, "seconds_spent", float),
        parent_id=_optional_str(row, "parent_id"),
        **({"created_at": created} if created else {}),
    )
    return Example(
        id=_optional_str(row, "id") or snippet.key(),
        snippet=snippet,
        label=label,
        provenance=provenance,
        genre=_optional_str(row, "genre"),
        split=split,
        tags=_tags(row),
    )


def _jsonl_rows(path: Path, problems: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    return iter_jsonl(
        path, on_error=lambda e: problems.append(Problem.of_line(e)), max_line_bytes=MAX_LINE_BYTES
    )


def _csv_rows(path: Path, problems: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        msg = f"not valid UTF-8 at byte {e.start}; save the file as UTF-8"
        problems.append(Problem(path.name, line, None, msg))
        return
    for number, physical in enumerate(text.splitlines(), start=1):
        if len(physical.encode()) > MAX_LINE_BYTES:
            problems.append(Problem(path.name, number, None, "line is longer than 1 MB"))
            return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in REQUIRED_FIELDS if c not in (reader.fieldnames or [])]
    if missing:
        problems.append(Problem(path.name, 1, missing[0], "missing column in the header row"))
        return
    for row in reader:
        yield reader.line_num, dict(row)


def _table_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        import datasets

        rows = list(datasets.load_from_disk(str(path)))
    yield from enumerate(rows, start=1)


def read_examples(
    path: str | Path, fmt: str | None = None, default_source: Source | None = None
) -> list[Example]:
    """Read and validate every row of `path`; raise `DataError` listing all problems."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    fmt = detect_format(path, fmt)
    problems: list[Problem] = []
    if fmt == "jsonl":
        rows: Iterable[tuple[int, dict[str, Any]]] = _jsonl_rows(path, problems)
    elif fmt == "csv":
        rows = _csv_rows(path, problems)
    else:
        rows = _table_rows(path, fmt)
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        try:
            example = parse_record(row, default_source)
        except _FieldError as e:
            problems.append(Problem(path.name, number, e.field, e.message))
            continue
        if example.id in seen:
            msg = f"duplicate id {example.id!r} (first on line {seen[example.id]})"
            problems.append(Problem(path.name, number, "id", msg))
            continue
        seen[example.id] = number
        examples.append(example)
    if problems:
        raise DataError(problems)
    return examples


def _csv_value(value: Any) -> Any:
    if isinstance(value, list):
        return "|".join(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else ""
    return "" if value is None else value


def write_examples(path: str | Path, examples: Iterable[Example], fmt: str | None = None) -> Path:
    """Write `examples` to `path` atomically, in the format its suffix (or `fmt`) names."""
    path = Path(path)
    fmt = detect_format(path, fmt)
    records = [e.to_record() for e in examples]
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "hf":
        import datasets

        tmp_dir = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
        rows = [{**r, "tags": json.dumps(r["tags"], ensure_ascii=False)} for r in records]
        datasets.Dataset.from_list(rows).save_to_disk(str(tmp_dir / "ds"))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp_dir / "ds", path)
        shutil.rmtree(tmp_dir, ignore_errors=True)
        return path
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "jsonl":
            with tmp.open("w", encoding="utf-8") as f:
                for r in records:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
        elif fmt == "csv":
            with tmp.open("w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
                writer.writeheader()
                for r in records:
                    writer.writerow({k: _csv_value(r[k]) for k in CSV_COLUMNS})
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            rows = [{**r, "tags": json.dumps(r["tags"], ensure_ascii=False)} for r in records]
            pq.write_table(pa.Table.from_pylist(rows), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def merge_into(dataset: str | Path, new: list[Example]) -> tuple[int, int]:
    """Add `new` examples to the JSONL `dataset` (created if absent), skipping known ids.

    Returns (n_added, n_skipped).  The file is rewritten atomically, so an import either
    lands whole or not at all.
    """
    dataset = Path(dataset)
    existing = read_examples(dataset, "jsonl") if dataset.exists() else []
    known = {e.id for e in existing}
    added = [e for e in new if e.id not in known]
    write_examples(dataset, [*existing, *added], "jsonl")
    return len(added), len(new) - len(added)
