"""Users, login sessions, classifier versions and settings."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from highstakes.store.tables import ROLES, ClassifierVersion, LoginSession, Setting, User

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106) defaults


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Swap the hashing parameters (tests use cheap ones; hashes record their own
    parameters, so existing ones still verify)."""
    global _hasher
    _hasher = hasher


DEFAULT_SETTINGS = {"labels_per_snippet": "2", "target_threshold": ""}


class StoreError(ValueError):
    """A request the store refuses; the message names what is wrong."""


def _utc(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def create_user(session: Session, username: str, password: str, role: str) -> User:
    if not USERNAME_RE.match(username):
        raise StoreError("username: 2-64 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise StoreError(f"role: must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise StoreError(f"password: at least {MIN_PASSWORD} characters")
    if session.scalar(select(User).where(User.username == username)):
        raise StoreError(f"username: {username!r} is taken")
    user = User(username=username, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = None
    # a name no account can have is not looked up (and PostgreSQL refuses text with NUL)
    if USERNAME_RE.fullmatch(username):
        user = session.scalar(select(User).where(User.username == username, User.active))
    if user is None:
        _hasher.hash(password)  # same work either way: timing does not reveal usernames
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, ttl: timedelta) -> tuple[str, str]:
    """A new login session: (cookie token, CSRF token).  Only the token's hash is stored."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(
        LoginSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    # expired sessions are swept here rather than by a background job
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    return token, csrf


def session_of(session: Session, token: str) -> tuple[User, LoginSession] | None:
    login = session.get(LoginSession, _token_hash(token))
    if login is None or _utc(login.expires_at) < datetime.now(UTC):
        return None
    user = session.get(User, login.user_id)
    if user is None or not user.active:
        return None
    return user, login


def close_session(session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == _token_hash(token)))


def get_setting(session: Session, key: str) -> str:
    row = session.get(Setting, key)
    return row.value if row else DEFAULT_SETTINGS.get(key, "")


def set_setting(session: Session, key: str, value: str) -> None:
    row = session.get(Setting, key)
    if row:
        row.value = value
    else:
        session.add(Setting(key=key, value=value))


def add_version(
    session: Session, name: str, path: str, threshold: float, round_: int, activate: bool = True
) -> ClassifierVersion:
    if session.scalar(select(ClassifierVersion).where(ClassifierVersion.name == name)):
        raise StoreError(f"name: classifier version {name!r} exists")
    version = ClassifierVersion(name=name, path=path, threshold=threshold, round=round_)
    session.add(version)
    session.flush()
    if activate:
        activate_version(session, version)
    return version


def activate_version(session: Session, version: ClassifierVersion) -> None:
    """Make `version` the one served (a running studio follows within seconds)."""
    session.execute(update(ClassifierVersion).values(active=False))
    version.active = True


def active_version(session: Session) -> ClassifierVersion | None:
    return session.scalar(select(ClassifierVersion).where(ClassifierVersion.active))


def list_versions(session: Session) -> list[ClassifierVersion]:
    return list(session.scalars(select(ClassifierVersion).order_by(ClassifierVersion.id)))


def target_threshold(session: Session) -> float | None:
    """The score attackers must get under: the admin's setting, else the active
    classifier's own threshold."""
    value = get_setting(session, "target_threshold")
    if value:
        return float(value)
    version = active_version(session)
    return version.threshold if version else None
