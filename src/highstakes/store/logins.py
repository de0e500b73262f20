"""Login attempts: recording them, and the counts behind the login throttle.

Counts are read from the database, not kept in memory, so every studio worker sees the
same ones.  Two guesses that arrive at the same moment can both be checked before either
is recorded, so a limit can be overshot by the number of requests in flight at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Select, delete, func, select, update
from sqlalchemy.orm import Session

from highstakes.store.tables import LOGIN_OUTCOMES, LoginAttempt, User

FIELD_CHARS = 64  # the width of the username and address columns


@dataclass(frozen=True)
class LoginLimits:
    """Failed logins allowed within `window`, per username and per client address."""

    per_user: int
    per_address: int
    window: timedelta


@dataclass(frozen=True)
class Lockout:
    username: str
    n_failures: int
    locked_until: datetime
    account_exists: bool  # a name with no account is locked the same way


def _column_text(text: str) -> str:
    """`text` as it can be stored and compared: PostgreSQL text cannot hold NUL, nor any
    database a lone surrogate, so those become replacement characters; cut to the width."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode()[:FIELD_CHARS]


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record(
    session: Session, username: str, client_address: str, outcome: str, now: datetime
) -> LoginAttempt:
    if outcome not in LOGIN_OUTCOMES:
        raise ValueError(f"outcome: must be one of {', '.join(LOGIN_OUTCOMES)}")
    row = LoginAttempt(
        attempted_at=now,
        username=_column_text(username),
        client_address=_column_text(client_address),
        outcome=outcome,
        cleared=False,
    )
    session.add(row)
    session.flush()
    return row


def _failures(since: datetime) -> Select[datetime]:
    return select(LoginAttempt.attempted_at).where(
        LoginAttempt.outcome == "failure", LoginAttempt.attempted_at > since
    )


def _lock_end(
    session: Session, failures: Select[datetime], limit: int, window: timedelta
) -> datetime | None:
    """When a lock from these failures ends, or None when they are under the limit.  It
    ends once fewer than `limit` remain in the window: when the limit-th newest leaves
    it (with exactly `limit` failures, the oldest)."""
    newest = session.scalars(failures.order_by(LoginAttempt.attempted_at.desc()).limit(limit))
    times = list(newest)
    return _as_utc(times[-1]) + window if len(times) >= limit else None


def user_lock_end(
    session: Session, limits: LoginLimits, username: str, now: datetime
) -> datetime | None:
    counted = _failures(now - limits.window).where(
        LoginAttempt.username == _column_text(username), LoginAttempt.cleared.is_(False)
    )
    return _lock_end(session, counted, limits.per_user, limits.window)


def address_lock_end(
    session: Session, limits: LoginLimits, client_address: str, now: datetime
) -> datetime | None:
    # cleared failures count here too: signing in to one account must not make room
    # for more guesses at others from the same address
    counted = _failures(now - limits.window).where(
        LoginAttempt.client_address == _column_text(client_address)
    )
    return _lock_end(session, counted, limits.per_address, limits.window)


def lockouts(session: Session, limits: LoginLimits, now: datetime) -> list[Lockout]:
    """Usernames now over the per-user limit, with when each lock ends."""
    over = session.execute(
        select(LoginAttempt.username, func.count())
        .where(
            LoginAttempt.outcome == "failure",
            LoginAttempt.cleared.is_(False),
            LoginAttempt.attempted_at > now - limits.window,
        )
        .group_by(LoginAttempt.username)
        .having(func.count() >= limits.per_user)
        .order_by(LoginAttempt.username)
    ).all()
    names = [name for name, _n in over]
    known = set(session.scalars(select(User.username).where(User.username.in_(names))))
    found = []
    for name, n_failures in over:
        until = user_lock_end(session, limits, name, now)
        if until is not None:
            found.append(Lockout(name, n_failures, until, name in known))
    return found


def clear_user_failures(session: Session, username: str, since: datetime) -> int:
    """Stop counting this username's failures after `since` toward its limit (they stay
    recorded).  Returns how many were cleared."""
    result = session.execute(
        update(LoginAttempt)
        .where(
            LoginAttempt.username == _column_text(username),
            LoginAttempt.outcome == "failure",
            LoginAttempt.cleared.is_(False),
            LoginAttempt.attempted_at > since,
        )
        .values(cleared=True)
    )
    return int(cast(CursorResult[Any], result).rowcount)


def prune(session: Session, before: datetime) -> int:
    """Delete attempts recorded before `before`; returns how many."""
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < before))
    return int(cast(CursorResult[Any], result).rowcount)
