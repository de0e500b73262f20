"""`highstakes studio add-user / add-pairs / add-snippets`: all or nothing, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from highstakes.cli.main import app
from highstakes.store import accounts
from highstakes.store.db import make_engine, session_factory
from highstakes.store.tables import RatingPair, SnippetRow, User

PROMPT = "Ann walked to the shed. It was late. She lit a lamp."


def _count(url: str, table: type) -> int:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        n = int(session.scalar(select(func.count()).select_from(table)) or 0)
    engine.dispose()
    return n


def test_studio_admin_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    made = runner.invoke(app, ["studio", "--db", url, "add-user", "maria", "--role", "attacker"])
    assert made.exit_code == 0, made.output
    assert "password" in made.output and _count(url, User) == 1
    # the made password is shown as it is, and it logs in
    shown = made.output.split("with password ")[1].split()[0].removesuffix(".")
    engine = make_engine(url)
    with session_factory(engine)() as session:
        assert accounts.authenticate(session, "maria", shown) is not None
    engine.dispose()
    # a password typed at the hidden prompt (twice) is not echoed, and it logs in
    typed = "correct horse"
    asked = runner.invoke(
        app,
        ["studio", "--db", url, "add-user", "ines", "--role", "labeler", "--ask-password"],
        input=f"{typed}\n{typed}\n",
    )
    assert asked.exit_code == 0, asked.output
    assert typed not in asked.output and "with password" not in asked.output
    engine = make_engine(url)
    with session_factory(engine)() as session:
        assert accounts.authenticate(session, "ines", typed) is not None
    engine.dispose()
    both = ["add-user", "jo", "--role", "rater", "--password", "x" * 9, "--ask-password"]
    refused_both = runner.invoke(app, ["studio", "--db", url, *both])
    assert refused_both.exit_code == 2 and "not both" in refused_both.output
    assert _count(url, User) == 2
    again = runner.invoke(app, ["studio", "--db", url, "add-user", "maria", "--role", "rater"])
    assert again.exit_code == 2 and "taken" in again.output
    bad_role = runner.invoke(app, ["studio", "--db", url, "add-user", "jo", "--role", "boss"])
    assert bad_role.exit_code == 2 and "role" in bad_role.output

    pairs = tmp_path / "pairs.jsonl"
    good = {"prompt": PROMPT, "filtered": "She sat.", "unfiltered": "She fell.", "threshold": 0.1}
    pairs.write_text(json.dumps(good) + "\n" + json.dumps({"prompt": PROMPT}) + "\n")
    refused = runner.invoke(app, ["studio", "--db", url, "add-pairs", str(pairs)])
    assert refused.exit_code == 2 and ":2: missing field" in "".join(refused.output.split("\n"))
    assert _count(url, RatingPair) == 0  # the good first row was not kept either
    pairs.write_text(json.dumps(good) + "\n")
    assert runner.invoke(app, ["studio", "--db", url, "add-pairs", str(pairs)]).exit_code == 0
    assert _count(url, RatingPair) == 1

    snippets = tmp_path / "snippets.jsonl"
    snippets.write_text(json.dumps({"prompt": PROMPT, "completion": "She fell."}) + "\n")
    wrong = runner.invoke(
        app, ["studio", "--db", url, "add-snippets", str(snippets), "--source", "gossip"]
    )
    assert wrong.exit_code == 2 and "source" in wrong.output
    ok = runner.invoke(app, ["studio", "--db", url, "add-snippets", str(snippets)])
    assert ok.exit_code == 0 and _count(url, SnippetRow) == 1
