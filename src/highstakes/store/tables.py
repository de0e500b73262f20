"""The studio's tables.  All database access goes through `highstakes.store.repositories`.

A *snippet* is any prompt/completion pair the studio knows: the seed data (imported with
its labels), attack targets, attack submissions, paraphrases and generator samples.  Its
`label` is the consensus once enough labelers agree; `label_status` says where it stands.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


ROLES = ("admin", "attacker", "labeler", "rater")
LABEL_STATUSES = ("imported", "pending", "agreed", "disputed", "resolved")
# "throttled": refused before the password was checked
LOGIN_OUTCOMES = ("success", "failure", "throttled")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class LoginSession(Base):
    __tablename__ = "sessions"
    # sha256 of the cookie token: a leaked database does not leak live sessions
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClassifierVersion(Base):
    __tablename__ = "classifier_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    path: Mapped[str] = mapped_column(Text)
    round: Mapped[int] = mapped_column(Integer, default=0)
    threshold: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class SnippetRow(Base):
    __tablename__ = "snippets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    prompt: Mapped[str] = mapped_column(Text)
    completion: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32), index=True)
    round: Mapped[int] = mapped_column(Integer, default=0)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("snippets.id"), nullable=True)
    classifier_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("classifier_versions.id"), nullable=True
    )
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    label: Mapped[str | None] = mapped_column(String(8), nullable=True)
    label_status: Mapped[str] = mapped_column(String(16), index=True)
    split: Mapped[str | None] = mapped_column(String(8), nullable=True)
    genre: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class LabelRow(Base):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("snippet_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snippet_id: Mapped[int] = mapped_column(ForeignKey("snippets.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    label: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Task(Base):
    """One attacker's work on one target (rewrite) or from scratch (write)."""

    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "rewrite" | "write"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    target_id: Mapped[int | None] = mapped_column(ForeignKey("snippets.id"), nullable=True)
    classifier_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("classifier_versions.id"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|submitted|skipped
    active_ms: Mapped[int] = mapped_column(Integer, default=0)
    draft: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    result_id: Mapped[int | None] = mapped_column(ForeignKey("snippets.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RatingPair(Base):
    """A prompt with a filtered and an unfiltered completion, shown in a fixed random order."""

    __tablename__ = "rating_pairs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt: Mapped[str] = mapped_column(Text)
    filtered: Mapped[str] = mapped_column(Text)
    unfiltered: Mapped[str] = mapped_column(Text)
    threshold: Mapped[float] = mapped_column(Float)
    filtered_first: Mapped[bool] = mapped_column(Boolean)
    classifier_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("classifier_versions.id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("pair_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("rating_pairs.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    preferred: Mapped[str] = mapped_column(String(16))  # "filtered" | "unfiltered" | "same"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class IdempotentRequest(Base):
    """The stored answer to a write request, so a retry with the same key gets the same
    answer and writes nothing twice.  Written in the same transaction as the write."""

    __tablename__ = "idempotency_keys"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    endpoint: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class LoginAttempt(Base):
    """One try at the login form, kept for the throttle's counts and as an audit trail
    (rows older than the retention setting are deleted).  Never holds a password."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        # the throttle's two questions: recent failures for a name, and from an address
        Index("ix_login_attempts_username_time", "username", "attempted_at"),
        Index("ix_login_attempts_address_time", "client_address", "attempted_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    username: Mapped[str] = mapped_column(String(64))  # as typed, account or not
    client_address: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # one of LOGIN_OUTCOMES
    # set on a failure once its user signs in or the admin unlocks them: it stops counting
    # toward the user's limit, but still counts toward its address's
    cleared: Mapped[bool] = mapped_column(Boolean, default=False)


class Setting(Base):
    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
