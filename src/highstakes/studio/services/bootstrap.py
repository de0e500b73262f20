"""First start: schema, demo data, the classifier version and a first admin."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from highstakes.data.records import Example
from highstakes.store import accounts, work
from highstakes.store.db import migrate, session_factory
from highstakes.store.tables import ClassifierVersion, SnippetRow, User


@dataclass
class Bootstrap:
    imported: int
    version: str
    admin_password: str | None  # set only when the admin was created now


def classifier_threshold(path: Path) -> float:
    meta = path / "highstakes.json"
    if not meta.is_file():
        raise FileNotFoundError(
            f"{path} is not a trained highstakes classifier (no highstakes.json); "
            "train one with `make demo` or `highstakes train`"
        )
    return float(json.loads(meta.read_text())["threshold"])


def bootstrap(
    engine: Engine,
    model_dir: Path,
    examples: list[Example],
    admin: str = "admin",
    version_name: str | None = None,
) -> Bootstrap:
    migrate(engine)
    threshold = classifier_threshold(model_dir)
    factory = session_factory(engine)
    with factory() as session:
        imported = 0
        if session.scalar(select(SnippetRow.id).limit(1)) is None:
            imported = work.import_examples(session, examples)
        path = str(model_dir.resolve())
        version = session.scalar(select(ClassifierVersion).where(ClassifierVersion.path == path))
        if version is None:
            name = version_name or f"v{len(accounts.list_versions(session))}-{model_dir.name}"
            version = accounts.add_version(session, name, path, threshold, 0)
        elif not version.active:
            accounts.activate_version(session, version)
        password = None
        if session.scalar(select(User.id).where(User.role == "admin").limit(1)) is None:
            password = secrets.token_urlsafe(12)
            accounts.create_user(session, admin, password, "admin")
        session.commit()
        return Bootstrap(imported, version.name, password)
