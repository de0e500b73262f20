"""The Alembic migrations: each upgrades a database made by the one before, keeps its rows,
and the result matches the tables the code declares."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select

from highstakes.store import accounts
from highstakes.store.db import MIGRATIONS, make_engine, migrate, session_factory
from highstakes.store.tables import Base, User


def _to(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)


def test_login_attempts_migration_upgrades_and_downgrades(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        _to(engine, command.upgrade, "0001")
        with session_factory(engine)() as session:
            accounts.create_user(session, "ana", "correct horse battery", "attacker")
            session.commit()
        assert "login_attempts" not in inspect(engine).get_table_names()

        migrate(engine)  # to head, as the studio does at start-up
        assert {c["name"] for c in inspect(engine).get_columns("login_attempts")} == {
            "id",
            "attempted_at",
            "username",
            "client_address",
            "outcome",
            "cleared",
        }
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        with session_factory(engine)() as session:
            assert session.scalar(select(User.username)) == "ana"

        _to(engine, command.downgrade, "0001")
        assert "login_attempts" not in inspect(engine).get_table_names()
        migrate(engine)
        migrate(engine)  # idempotent
        assert "login_attempts" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
