"""`highstakes studio`: serve the web studio; `studio add-user`, `studio add-pairs`,
`studio add-snippets` manage it from the shell."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from highstakes.cli.errors import user_errors
from highstakes.cli.progress import console

app = typer.Typer(
    help="The web studio where people attack, label and rate.  Without a sub-command it "
    "starts the server.",
    invoke_without_command=True,
    no_args_is_help=False,
)

DB_HELP = "Database URL: a SQLite file (default) or postgresql+psycopg://user@host/db."


@app.callback()
def serve(
    ctx: typer.Context,
    db: str = typer.Option("sqlite:///studio/studio.db", "--db", help=DB_HELP),
    model: Path = typer.Option(
        Path("runs/demo/classifier"), "--model", help="Trained classifier folder to serve."
    ),
    data: str = typer.Option(
        "demo", "--data", help="Data imported on first start: demo or a file."
    ),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    menu_lm: str = typer.Option(
        "embedded-smollm2", "--menu-lm", help="Language model for the word menu, or 'none'."
    ),
) -> None:
    """Start the studio (first start: create tables, import data, create an admin)."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = db
        return
    import uvicorn

    from highstakes.data.demo import load_dataset
    from highstakes.store.db import make_engine
    from highstakes.studio.main import create_app
    from highstakes.studio.services.bootstrap import bootstrap
    from highstakes.studio.settings import StudioSettings

    with user_errors():
        engine = make_engine(db)
        started = bootstrap(engine, model, load_dataset(data))
        engine.dispose()
    console.print(
        f"Studio at [bold]http://{host}:{port}/[/bold]  (serving {escape(started.version)})",
        markup=True,
    )
    if started.imported:
        console.print(f"Imported {started.imported} snippets from {data}.")
    if started.admin_password:
        console.print(
            f"First admin login: user [bold]admin[/bold], password "
            f"[bold]{escape(started.admin_password)}[/bold] (shown once; add users on /admin)",
            markup=True,
        )
    settings = StudioSettings(database_url=db, model_dir=str(model), menu_lm=menu_lm)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


@contextmanager
def _session(db: str) -> Iterator[Any]:
    """A session on the migrated database; the engine is closed afterwards."""
    from highstakes.store.db import make_engine, migrate, session_factory

    engine = make_engine(db)
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


@app.command("add-user")
def add_user(
    ctx: typer.Context,
    username: str = typer.Argument(..., metavar="USERNAME", help="Login name."),
    role: str = typer.Option(..., "--role", help="admin, attacker, labeler or rater."),
    password: str = typer.Option(
        "",
        "--password",
        help="At least 8 characters (shell history keeps it: --ask-password does not); a "
        "random one is made and shown if neither is given.",
    ),
    ask_password: bool = typer.Option(
        False, "--ask-password", help="Type the password at a hidden prompt, twice."
    ),
) -> None:
    """Create a user."""
    from highstakes.store import accounts

    if password and ask_password:
        raise typer.BadParameter("give --password or --ask-password, not both")
    if ask_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    chosen = password or secrets.token_urlsafe(12)
    with user_errors(), _session(ctx.obj) as session:
        accounts.create_user(session, username, chosen, role)
        session.commit()
    shown = "" if password else f" with password [bold]{escape(chosen)}[/bold]"
    console.print(f"Created {escape(role)} [bold]{escape(username)}[/bold]{shown}.", markup=True)


def _queue_rows(path: Path, add: Callable[[dict[str, Any]], object]) -> int:
    """Add every row of a JSONL file, or none: the first bad row names its line."""
    from highstakes.data.jsonl import iter_jsonl

    rows = list(iter_jsonl(path))
    for n, row in rows:
        try:
            add(row)
        except KeyError as exc:
            raise ValueError(f"{path}:{n}: missing field {exc}") from None
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: {exc}") from None
    return len(rows)


@app.command("add-pairs")
def add_pairs(
    ctx: typer.Context,
    path: Path = typer.Argument(
        ..., metavar="PATH", help="JSONL rows: prompt, filtered, unfiltered, threshold."
    ),
) -> None:
    """Queue pairs for the quality rating task (all or nothing)."""
    from highstakes.store import work

    with user_errors(), _session(ctx.obj) as session:
        n = _queue_rows(
            path,
            lambda row: work.add_pair(
                session,
                str(row["prompt"]),
                str(row["filtered"]),
                str(row["unfiltered"]),
                float(row["threshold"]),
            ),
        )
        session.commit()
    console.print(f"Queued {n} pairs for rating.")


@app.command("add-snippets")
def add_snippets(
    ctx: typer.Context,
    path: Path = typer.Argument(..., metavar="PATH", help="JSONL rows: prompt, completion."),
    source: str = typer.Option("generator", "--source", help="paraphrase, generator, auto-attack."),
    round_: int = typer.Option(0, "--round"),
) -> None:
    """Queue snippets for the labeling queue (all or nothing)."""
    from highstakes.store import work

    with user_errors(), _session(ctx.obj) as session:
        n = _queue_rows(
            path,
            lambda row: work.add_for_labeling(
                session, str(row["prompt"]), str(row["completion"]), source, round_
            ),
        )
        session.commit()
    console.print(f"Queued {n} snippets for labeling.")
