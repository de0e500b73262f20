"""The login throttle: failed logins per username and per client address within a sliding
window, counted in the database; every attempt recorded; the admin's lockout list and
unlock.  Time is moved with an injected clock, never by sleeping."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from highstakes.store.db import make_engine, session_factory
from highstakes.store.tables import LoginAttempt
from highstakes.studio.settings import StudioSettings
from tests.studio.conftest import PASSWORD, Studio

WRONG = "not the password"


class Clock:
    """Stands in for `app.state.clock`; tests move it with `advance`."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(studio: Studio) -> Iterator[Clock]:
    app: Any = studio.client.app
    fake = Clock(datetime.now(UTC))
    app.state.clock = fake
    yield fake


def attempt(client: TestClient, username: str, password: str) -> httpx.Response:
    """One submission of the login form, with a fresh form and no session cookie."""
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )


def from_address(studio: Studio, address: str) -> TestClient:
    """A client of the same app whose requests come from `address`."""
    return TestClient(studio.client.app, client=(address, 50000))


def attempts_of(studio: Studio, username: str) -> list[LoginAttempt]:
    engine = make_engine(studio.url)
    try:
        with session_factory(engine)() as session:
            query = select(LoginAttempt).where(LoginAttempt.username == username)
            return list(session.scalars(query.order_by(LoginAttempt.id)))
    finally:
        engine.dispose()


def test_settings_defaults_and_retention_check() -> None:
    settings = StudioSettings()
    assert settings.max_failed_logins_per_user == 5
    assert settings.max_failed_logins_per_address == 20
    assert settings.failed_login_window_minutes == 15
    with pytest.raises(ValueError, match="retention"):
        StudioSettings(login_attempt_retention_days=0.001)  # 1.4 min < 15 min


def test_sixth_login_after_five_failures_is_refused_unchecked(studio: Studio, clock: Clock) -> None:
    for _ in range(5):
        assert attempt(studio.client, "attacker", WRONG).status_code == 401
        clock.advance(minutes=1)
    right = attempt(studio.client, "attacker", PASSWORD)
    assert right.status_code == 429
    assert right.headers["Retry-After"] == "600"  # the first failure leaves at 15 min
    assert "hs_session" not in right.cookies
    assert "Too many failed sign-ins" in right.text
    wrong = attempt(studio.client, "attacker", WRONG)
    # the answer does not tell whether the password was right
    assert (wrong.status_code, wrong.headers["Retry-After"]) == (429, "600")
    assert wrong.text.replace(wrong.cookies.get("hs_login_csrf", ""), "") == right.text.replace(
        right.cookies.get("hs_login_csrf", ""), ""
    )
    # other users on the same address are not affected (5 failures < 20)
    assert attempt(studio.client, "labeler", PASSWORD).status_code == 303


def test_lock_ends_as_failures_leave_the_window(studio: Studio, clock: Clock) -> None:
    start = clock.now
    for _ in range(5):
        attempt(studio.client, "rater", WRONG)
        clock.advance(minutes=1)
    clock.now = start + timedelta(minutes=15, seconds=-1)
    assert attempt(studio.client, "rater", PASSWORD).headers["Retry-After"] == "1"
    clock.now = start + timedelta(minutes=15)  # the first failure has left: 4 remain
    assert attempt(studio.client, "rater", WRONG).status_code == 401  # 5 again
    locked = attempt(studio.client, "rater", PASSWORD)
    assert (locked.status_code, locked.headers["Retry-After"]) == (429, "60")  # the 2nd leaves
    clock.advance(seconds=60)
    assert attempt(studio.client, "rater", PASSWORD).status_code == 303


def test_success_resets_the_users_count(studio: Studio, clock: Clock) -> None:
    for _ in range(4):
        assert attempt(studio.client, "labeler", WRONG).status_code == 401
    assert attempt(studio.client, "labeler", PASSWORD).status_code == 303
    for _ in range(5):
        assert attempt(studio.client, "labeler", WRONG).status_code == 401
    assert attempt(studio.client, "labeler", PASSWORD).status_code == 429


def test_address_limit_counts_failures_across_usernames(studio: Studio, clock: Clock) -> None:
    guesser = from_address(studio, "10.0.0.7")
    for i in range(20):
        assert attempt(guesser, f"guess{i}", WRONG).status_code == 401
    locked = attempt(guesser, "rater", PASSWORD)
    assert (locked.status_code, locked.headers["Retry-After"]) == (429, "900")
    # a success elsewhere does not reset the address's count
    assert attempt(from_address(studio, "10.0.0.8"), "rater", PASSWORD).status_code == 303
    assert attempt(guesser, "labeler", PASSWORD).status_code == 429
    clock.advance(minutes=15)
    assert attempt(guesser, "rater", PASSWORD).status_code == 303


def test_attempts_are_recorded_and_logged_without_passwords(
    studio: Studio, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="highstakes.studio.services.login_throttle")
    attempt(studio.client, "labeler2", WRONG)
    clock.advance(seconds=5)
    attempt(studio.client, "labeler2", PASSWORD)
    rows = attempts_of(studio, "labeler2")
    # the fixture's sign-in came first
    assert [r.outcome for r in rows] == ["success", "failure", "success"]
    failure, success = rows[1:]
    assert {failure.client_address, success.client_address} == {"testclient"}
    assert failure.cleared  # the success stopped it counting toward labeler2's limit
    seen = failure.attempted_at.replace(tzinfo=UTC)
    assert seen == clock.now - timedelta(seconds=5)
    messages = [r.getMessage() for r in caplog.records]
    assert "login failed: username 'labeler2' from 'testclient'" in messages
    assert "login succeeded: username 'labeler2' from 'testclient'" in messages
    assert not any(WRONG in m or PASSWORD in m for m in caplog.messages)
    for _ in range(6):
        attempt(studio.client, "ghost", WRONG)
    assert [r.outcome for r in attempts_of(studio, "ghost")] == ["failure"] * 5 + ["throttled"]


def test_old_attempts_are_deleted(studio: Studio, clock: Clock) -> None:
    engine = make_engine(studio.url)
    with session_factory(engine)() as session:
        for days in (31, 29):
            session.add(
                LoginAttempt(
                    attempted_at=clock.now - timedelta(days=days),
                    username=f"old{days}",
                    client_address="10.0.0.1",
                    outcome="failure",
                    cleared=False,
                )
            )
        session.commit()
    engine.dispose()
    attempt(studio.client, "attacker", WRONG)
    assert attempts_of(studio, "old31") == []  # past the 30-day retention
    assert len(attempts_of(studio, "old29")) == 1


def test_admin_lists_and_unlocks_locked_users(studio: Studio, clock: Clock) -> None:
    start = clock.now
    for name in ("attacker2", "nobody"):
        for _ in range(5):
            attempt(studio.client, name, WRONG)
    clock.advance(minutes=5)
    listed = studio.admin.call("GET", "/api/admin/lockouts").json()
    assert [(x["username"], x["account_exists"], x["n_failures"]) for x in listed] == [
        ("attacker2", True, 5),
        ("nobody", False, 5),
    ]
    until = datetime.fromisoformat(listed[0]["locked_until"].replace("Z", "+00:00"))
    assert until == start + timedelta(minutes=15)
    assert listed[0]["seconds_left"] == 600
    dashboard = studio.admin.call("GET", "/api/admin/dashboard").json()
    assert [x["username"] for x in dashboard["lockouts"]] == ["attacker2", "nobody"]
    page = studio.admin.call("GET", "/admin").text
    row = re.search(r'<tr data-username="attacker2">.*?</tr>', page, re.S)
    assert row and 'data-api="/api/admin/unlock"' in row.group(0)

    # what the page's Unlock button sends
    unlocked = studio.admin.call("POST", "/api/admin/unlock", json={"username": "attacker2"})
    assert unlocked.json() == {"username": "attacker2", "n_cleared": 5}
    listed = studio.admin.call("GET", "/api/admin/lockouts").json()
    assert [x["username"] for x in listed] == ["nobody"]
    assert attempt(studio.client, "attacker2", PASSWORD).status_code == 303
    assert attempt(studio.client, "nobody", WRONG).status_code == 429
    assert 'data-username="attacker2"' not in studio.admin.call("GET", "/admin").text


def test_names_no_account_can_have_are_recorded_and_unlockable(
    studio: Studio, clock: Clock
) -> None:
    odd = "ad\x00min\n"  # PostgreSQL cannot store NUL: it is kept as U+FFFD
    for _ in range(5):
        assert attempt(studio.client, odd, WRONG).status_code == 401
    assert attempt(studio.client, odd, WRONG).status_code == 429
    listed = studio.admin.call("GET", "/api/admin/lockouts").json()
    assert [x["username"] for x in listed] == ["ad\ufffdmin\n"]
    cleared = studio.admin.call("POST", "/api/admin/unlock", json={"username": odd}).json()
    assert cleared["n_cleared"] == 5
    assert studio.admin.call("GET", "/api/admin/lockouts").json() == []
