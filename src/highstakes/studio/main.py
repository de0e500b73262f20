"""Builds the studio application; nothing here runs at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from highstakes.store.accounts import StoreError
from highstakes.store.db import make_engine, migrate, session_factory
from highstakes.store.tables import utc_now
from highstakes.studio.deps import NotSignedIn
from highstakes.studio.services.scoring import ScoringService, Tools
from highstakes.studio.settings import StudioSettings

log = logging.getLogger(__name__)
HERE = Path(__file__).parent


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


class BodyLimit(BaseHTTPMiddleware):
    """413 for a declared body over the limit, before any of it is read."""

    def __init__(self, app: Any, limit: int) -> None:
        super().__init__(app)
        self.limit = limit

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > self.limit:
            return JSONResponse(
                {"detail": f"request body over {self.limit} bytes (or a bad Content-Length)"},
                status_code=413,
            )
        return await call_next(request)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _exc: NotSignedIn) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StoreError)
    async def refused(_request: Request, exc: StoreError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(LookupError)
    async def missing(_request: Request, exc: LookupError) -> Response:
        return JSONResponse({"detail": str(exc).strip("'\"")}, status_code=404)

    @app.exception_handler(PermissionError)
    async def forbidden(_request: Request, exc: PermissionError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e['msg']}"
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)


def create_app(settings: StudioSettings, tools: Tools | None = None) -> FastAPI:
    """The studio.  `tools` (the classifier and its menu) are loaded from the active
    classifier version at start-up when not given, which tests do to use tiny models."""
    from highstakes.studio.routes import admin, attack, auth, label, pages, rate

    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate(engine)
        loaded = tools or _load_active_tools(app)
        app.state.scoring = ScoringService(loaded, settings.max_batch, settings.max_wait_ms)
        await app.state.scoring.start()
        watcher = asyncio.create_task(_follow_active_version(app, settings.version_poll_seconds))
        yield
        watcher.cancel()
        await app.state.scoring.stop()
        engine.dispose()

    app = FastAPI(title="highstakes studio", lifespan=lifespan, version="1")
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.templates = Jinja2Templates(directory=HERE / "templates")
    app.state.lm = None
    app.state.clock = utc_now  # what the login throttle reads; tests move it forward
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (auth, pages, attack, label, rate, admin):
        app.include_router(module.router)
    _handlers(app)
    return app


async def _follow_active_version(app: FastAPI, every: float) -> None:
    """Serve whichever version is active in the database: the loop (or another server)
    may register a new one; it is loaded beside the old and swapped in between batches."""
    from highstakes.store.accounts import active_version
    from highstakes.studio.services.scoring import load_tools

    while True:
        await asyncio.sleep(every)
        try:
            with app.state.sessions() as session:
                version = active_version(session)
            current = app.state.scoring.tools
            if version is None or version.id == current.version_id:
                continue
            tools = await asyncio.to_thread(
                load_tools, version.path, version.id, version.name, app.state.lm
            )
            tools.threshold = version.threshold
            app.state.scoring.swap(tools)
        except Exception:  # a bad folder must not stop the server; the admin sees the log
            log.exception("could not switch to the active classifier version")


def _load_active_tools(app: FastAPI) -> Tools:
    from highstakes.store.accounts import active_version
    from highstakes.studio.services.scoring import load_tools

    settings: StudioSettings = app.state.settings
    with app.state.sessions() as session:
        version = active_version(session)
    if version is None:
        raise RuntimeError(
            "no classifier version is registered: start `highstakes studio --model DIR`"
        )
    if settings.menu_lm != "none":
        from highstakes.models.generator import CausalLM

        app.state.lm = CausalLM.from_pretrained(settings.menu_lm)
    return load_tools(version.path, version.id, version.name, app.state.lm)
