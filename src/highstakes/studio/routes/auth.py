"""Sign in and out.  The login form is protected by a double-submit CSRF cookie (there is
no session yet); every later form and API call by the session's own CSRF token.  Repeated
failed logins are throttled (services/login_throttle.py)."""

from __future__ import annotations

import math
import secrets
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from highstakes.store import accounts
from highstakes.studio.deps import SESSION_COOKIE, SessionDep, ViewerDep
from highstakes.studio.services import login_throttle

router = APIRouter(tags=["auth"])
LOGIN_CSRF_COOKIE = "hs_login_csrf"


def _page(request: Request, error: str | None = None, status: int = 200) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = request.app.state.templates.TemplateResponse(
        request,
        "login.html",
        {"csrf_token": token, "error": error, "viewer": None},
        status_code=status,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request) -> Response:
    return _page(request)


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie.encode(), csrf_token.encode()):
        return _page(request, "The form expired; please sign in again.", 403)
    settings = request.app.state.settings
    address = request.client.host if request.client else "unknown"
    now = request.app.state.clock()
    attempt = login_throttle.sign_in(session, settings, username, password, address, now)
    user = attempt.user
    if user is None:
        session.commit()  # refused attempts are recorded too
        wait = attempt.retry_after_seconds
        if wait is None:
            return _page(request, "Wrong username or password.", 401)
        response = _page(
            request, f"Too many failed sign-ins; try again in {math.ceil(wait / 60)} min.", 429
        )
        response.headers["Retry-After"] = str(wait)
        return response
    token, _csrf = accounts.open_session(session, user, timedelta(hours=settings.session_hours))
    session.commit()
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, viewer: ViewerDep, session: SessionDep) -> Any:
    token = request.cookies.get(SESSION_COOKIE, "")
    accounts.close_session(session, token)
    session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/api/me", tags=["auth"])
async def me(viewer: ViewerDep) -> dict[str, Any]:
    """Who is signed in, and the CSRF token that write calls must send as X-CSRF-Token."""
    return {
        "username": viewer.user.username,
        "role": viewer.user.role,
        "csrf_token": viewer.login.csrf_token,
    }
