"""Alembic environment: runs on the connection `highstakes.store.db.migrate` passes in,
or on `sqlalchemy.url` when called from the alembic command line."""

from alembic import context
from sqlalchemy import create_engine

from highstakes.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


run()
