"""Signing in, slowed down against password guessing.

Every attempt is recorded in the database with its time, the username as typed, the
client address and the outcome.  Once a username, or a client address, has as many
failures within the window as the settings allow, further attempts are refused before the
password is checked: a correct password is refused too, and the answer is the same
whether it would have been right.  Refused attempts are recorded but not counted, so a
lock ends on time however often the form is tried meanwhile.  The wait returned is the
time until enough counted failures have left the window.

A successful sign-in clears that user's counted failures (a few typos do not pile up
toward a lock); it leaves the address's count alone, so signing in to one's own account
does not buy more guesses at others.  Attempts older than the retention are deleted on
each attempt, which keeps the table bounded without a background job.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from highstakes.store import accounts, logins
from highstakes.store.logins import Lockout, LoginLimits
from highstakes.store.tables import User
from highstakes.studio.settings import StudioSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignIn:
    user: User | None  # None: refused
    retry_after_seconds: int | None = None  # set when refused without checking the password


def limits_of(settings: StudioSettings) -> LoginLimits:
    return LoginLimits(
        per_user=settings.max_failed_logins_per_user,
        per_address=settings.max_failed_logins_per_address,
        window=timedelta(minutes=settings.failed_login_window_minutes),
    )


def sign_in(
    session: Session,
    settings: StudioSettings,
    username: str,
    password: str,
    client_address: str,
    now: datetime,
) -> SignIn:
    """Check a login unless it is throttled, and record it.  The caller commits.

    Nothing is written until the password has been checked: on SQLite the first write
    takes the database's write lock, which should not be held while argon2 works."""
    now = now.astimezone(UTC)
    limits = limits_of(settings)
    ends = [
        end
        for end in (
            logins.user_lock_end(session, limits, username, now),
            logins.address_lock_end(session, limits, client_address, now),
        )
        if end is not None
    ]
    if ends:
        _record(session, settings, username, client_address, "throttled", now)
        log.warning(
            "login throttled: username %r from %r until %s",
            username,
            client_address,
            max(ends).isoformat(),
        )
        return SignIn(None, max(1, math.ceil((max(ends) - now).total_seconds())))
    user = accounts.authenticate(session, username, password)
    if user is None:
        _record(session, settings, username, client_address, "failure", now)
        log.warning("login failed: username %r from %r", username, client_address)
        return SignIn(None)
    _record(session, settings, username, client_address, "success", now)
    logins.clear_user_failures(session, username, now - limits.window)
    log.info("login succeeded: username %r from %r", username, client_address)
    return SignIn(user)


def _record(
    session: Session,
    settings: StudioSettings,
    username: str,
    client_address: str,
    outcome: str,
    now: datetime,
) -> None:
    logins.record(session, username, client_address, outcome, now)
    logins.prune(session, now - timedelta(days=settings.login_attempt_retention_days))


def lockouts(session: Session, settings: StudioSettings, now: datetime) -> list[Lockout]:
    return logins.lockouts(session, limits_of(settings), now.astimezone(UTC))


def unlock(
    session: Session, settings: StudioSettings, username: str, admin: str, now: datetime
) -> int:
    """Clear a username's counted failures (the caller commits); returns how many."""
    since = now.astimezone(UTC) - limits_of(settings).window
    n_cleared = logins.clear_user_failures(session, username, since)
    log.info("admin %r unlocked username %r (%d failures cleared)", admin, username, n_cleared)
    return n_cleared
