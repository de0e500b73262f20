"""The `highstakes` command line: one Typer sub-app per command group."""
