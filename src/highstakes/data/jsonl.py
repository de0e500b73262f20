"""The one JSONL reader: a file of JSON objects, one per line, blank lines skipped.

Every JSONL file highstakes reads goes through here, so a bad line always gets the same
clear error, naming the file and the line.  Callers check the fields they need; this
module only promises a list of dicts.  It imports nothing heavy, so the command line can
use it before torch is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class JsonlError(ValueError):
    """One line of a JSONL file that is not a JSON object."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}")


def iter_jsonl(
    path: str | Path,
    on_error: Callable[[JsonlError], None] | None = None,
    max_line_bytes: int | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of `path`, numbered from 1.

    A bad line (longer than `max_line_bytes`, not UTF-8, not JSON, or JSON that is not an
    object) raises `JsonlError`; with `on_error` it is handed to `on_error` instead and
    skipped, so a caller can report every bad line at once.
    """
    path = Path(path)
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                row = _parse(path, number, raw, max_line_bytes)
            except JsonlError as e:
                if on_error is None:
                    raise
                on_error(e)
                continue
            if row is not None:
                yield number, row


def read_jsonl(
    path: str | Path, *, missing_ok: bool = False, torn_tail_ok: bool = False
) -> list[dict[str, Any]]:
    """Every object in `path`, in order; the first bad line raises `JsonlError`.

    `missing_ok`: a missing file reads as no rows (else `FileNotFoundError`).
    `torn_tail_ok`: for append-only logs, a last line that is not valid JSON was cut off
    by a crash mid-write and is dropped (the caller redoes it); a bad line before the
    last still raises.
    """
    path = Path(path)
    if not path.exists():
        if missing_ok:
            return []
        raise FileNotFoundError(f"no such file: {path}")
    rows: list[dict[str, Any]] = []
    torn: list[JsonlError] = []

    def keep_last_error(error: JsonlError) -> None:
        if torn:  # a bad line followed by another line: not a torn tail
            raise torn[0]
        torn.append(error)

    for _, row in iter_jsonl(path, keep_last_error if torn_tail_ok else None):
        if torn:
            raise torn[0]
        rows.append(row)
    return rows


def _parse(path: Path, number: int, raw: bytes, max_line_bytes: int | None) -> Any:
    """The object on one raw line, None for a blank line; raises `JsonlError`."""
    if max_line_bytes is not None and len(raw) > max_line_bytes:
        message = f"line is {len(raw):,} bytes long (limit {max_line_bytes:,})"
        raise JsonlError(path, number, message)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise JsonlError(
            path, number, f"not valid UTF-8 at byte {e.start}; save the file as UTF-8"
        ) from None
    if not text.strip():
        return None
    try:
        row = json.loads(text)
    except json.JSONDecodeError as e:
        message = f"not valid JSON ({e.msg} at column {e.colno}); each line must be one object"
        raise JsonlError(path, number, message) from None
    if not isinstance(row, dict):
        kind = _JSON_KINDS.get(type(row), type(row).__name__)
        raise JsonlError(path, number, f"each line must be a JSON object {{...}}, got {kind}")
    return row


_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}
