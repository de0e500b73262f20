"""Turn expected failures into one clear message and a non-zero exit, not a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from highstakes.cli.progress import console


@contextmanager
def user_errors() -> Iterator[None]:
    from highstakes.data.io import DataError
    from highstakes.models.embedded import ModelNotFoundError

    try:
        yield
    except (DataError, FileNotFoundError, ModelNotFoundError, ValueError, OSError) as e:
        console.print(f"[red]error:[/red] {e}", highlight=False, markup=True)
        raise typer.Exit(code=2) from None
