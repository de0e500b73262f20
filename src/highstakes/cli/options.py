"""Helpers for reading a command's options."""

from __future__ import annotations

import typer


def given(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` was given on the command line, not left at its default.  By
    the source's name: Typer carries its own copy of click, whose ParameterSource is not
    click's."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"
