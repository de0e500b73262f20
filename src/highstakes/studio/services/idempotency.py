"""Exactly-once writes: the answer to a write is stored under the client's
Idempotency-Key in the same transaction as the write itself.  A retry (after a timeout,
a dropped connection or a killed server) gets the stored answer and writes nothing; a
write that was never committed was never acknowledged, so retrying it is safe."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Header
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from highstakes.store.accounts import StoreError
from highstakes.store.tables import IdempotentRequest, User

KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")


def idempotency_key(
    key: str | None = Header(None, alias="Idempotency-Key", max_length=100),
) -> str | None:
    if key is not None and not KEY_RE.match(key):
        raise StoreError("Idempotency-Key: 8-100 letters, digits, '.', '_', ':' or '-'")
    return key


def _stored_key(user: User, key: str) -> str:
    return f"{user.id}:{key}"  # keys are per user: one user cannot replay another's


def replay(session: Session, user: User, key: str | None, endpoint: str) -> dict[str, Any] | None:
    """The stored answer to an earlier request with this key, if there was one."""
    if key is None:
        return None
    row = session.get(IdempotentRequest, _stored_key(user, key))
    if row is None:
        return None
    if row.endpoint != endpoint:
        raise StoreError(f"Idempotency-Key: already used for {row.endpoint}")
    return dict(row.response)


def commit(
    session: Session, user: User, key: str | None, endpoint: str, response: dict[str, Any]
) -> dict[str, Any]:
    """Commit the write with its answer; a concurrent twin that committed first wins and
    its answer is returned instead."""
    if key is not None:
        session.add(
            IdempotentRequest(
                key=_stored_key(user, key), user_id=user.id, endpoint=endpoint, response=response
            )
        )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        earlier = replay(session, user, key, endpoint)
        if earlier is None:
            raise
        return earlier
    return response
