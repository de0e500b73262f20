"""Turn expected failures into one clear message and a non-zero exit, not a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.markup import escape

from highstakes.cli.progress import console


@contextmanager
def user_errors() -> Iterator[None]:
    from highstakes.data.io import DataError
    from highstakes.models.embedded import ModelNotFoundError

    try:
        yield
    except (DataError, FileNotFoundError, ModelNotFoundError, ValueError, OSError) as e:
        # the message's own brackets ("[train]") are text, not rich markup
        console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, markup=True)
        raise typer.Exit(code=2) from None
