"""Studio fixtures: a tiny classifier saved as a trained one, the app on SQLite or on a
throwaway PostgreSQL cluster, and signed-in test users for every role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from highstakes.store import accounts
from highstakes.store.db import make_engine, session_factory
from highstakes.studio.main import create_app
from highstakes.studio.services.bootstrap import bootstrap
from highstakes.studio.services.scoring import load_tools
from highstakes.studio.settings import StudioSettings
from tests.conftest import make_examples
from tests.studio.postgres import postgres_database

PASSWORD = "correct horse battery"
ROLES = ("attacker", "labeler", "rater")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'studio.db'}"
    else:
        with postgres_database(request) as url:
            yield url


@dataclass
class Actor:
    """A signed-in user; `call` sends their cookie and CSRF token."""

    client: TestClient
    username: str
    role: str
    token: str
    csrf: str

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        self.client.cookies.clear()
        self.client.cookies.set("hs_session", self.token)
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Actor:
    client.cookies.clear()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "login form has no CSRF field"
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    session_token = response.cookies["hs_session"]
    client.cookies.clear()
    client.cookies.set("hs_session", session_token)
    me = client.get("/api/me").json()
    return Actor(client, username, me["role"], session_token, me["csrf_token"])


@dataclass
class Studio:
    client: TestClient
    url: str
    admin: Actor
    actors: dict[str, Actor]

    def actor(self, name: str) -> Actor:
        return self.actors[name]


@pytest.fixture
def studio(database_url: str, studio_model: Path) -> Iterator[Studio]:
    engine = make_engine(database_url)
    started = bootstrap(engine, studio_model, make_examples(12))
    factory = session_factory(engine)
    with factory() as session:
        for role in ROLES:
            accounts.create_user(session, role, PASSWORD, role)
        accounts.create_user(session, "attacker2", PASSWORD, "attacker")
        accounts.create_user(session, "labeler2", PASSWORD, "labeler")
        accounts.set_setting(session, "target_threshold", "0.99")
        version = accounts.active_version(session)
        session.commit()
    engine.dispose()
    assert started.admin_password and version
    tools = load_tools(str(studio_model), version.id, version.name, lm=None)
    settings = StudioSettings(
        database_url=database_url, model_dir=str(studio_model), version_poll_seconds=0.2
    )
    with TestClient(create_app(settings, tools)) as client:
        admin = sign_in(client, "admin", started.admin_password)
        actors = {n: sign_in(client, n) for n in (*ROLES, "attacker2", "labeler2")}
        yield Studio(client, database_url, admin, actors)
