"""Dependencies shared by the routes: the database session, the signed-in user, roles."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from highstakes.store import accounts
from highstakes.store.tables import LoginSession, User

SESSION_COOKIE = "hs_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def get_db(request: Request) -> Iterator[Session]:
    """A session per request.  Routes that write call `commit()` themselves before they
    answer, so an acknowledged write is a committed one; anything else is rolled back."""
    with request.app.state.sessions() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_db)]


@dataclass
class Viewer:
    user: User
    login: LoginSession


class NotSignedIn(Exception):
    """Raised for pages (redirect to /login) and turned into 401 for the API."""


async def _csrf_value(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


async def current_viewer(request: Request, session: SessionDep) -> Viewer:
    token = request.cookies.get(SESSION_COOKIE)
    found = accounts.session_of(session, token) if token else None
    if found is None:
        raise NotSignedIn()
    user, login = found
    if request.method in UNSAFE_METHODS:
        sent = await _csrf_value(request)
        if not secrets.compare_digest(sent.encode(), login.csrf_token.encode()):
            raise HTTPException(403, "missing or wrong CSRF token")
    return Viewer(user, login)


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def role(*allowed: str) -> Callable[..., Any]:
    """A dependency that lets only the given roles through (403 for the others)."""

    async def check(viewer: ViewerDep) -> Viewer:
        if viewer.user.role not in allowed:
            raise HTTPException(403, f"this needs the role {' or '.join(allowed)}")
        return viewer

    return check


Attacker = Annotated[Viewer, Depends(role("attacker"))]
Labeler = Annotated[Viewer, Depends(role("labeler"))]
Rater = Annotated[Viewer, Depends(role("rater"))]
Admin = Annotated[Viewer, Depends(role("admin"))]
