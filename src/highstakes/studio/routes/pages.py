"""Server-rendered pages.  Each role sees only its own pages; the data comes from the
JSON API through a little JavaScript (static/studio.js)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from highstakes.studio.deps import Admin, Attacker, Labeler, Rater, SessionDep, Viewer, ViewerDep

router = APIRouter(include_in_schema=False)
HOME = {"admin": "/admin", "attacker": "/attack", "labeler": "/label", "rater": "/rate"}


def render(request: Request, template: str, viewer: Viewer, **context: Any) -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        template,
        {"viewer": viewer.user, "csrf_token": viewer.login.csrf_token, **context},
    )


@router.get("/")
async def home(viewer: ViewerDep) -> Response:
    return RedirectResponse(HOME[viewer.user.role], status_code=303)


@router.get("/attack", response_class=HTMLResponse)
async def attack_home(request: Request, viewer: Attacker) -> Response:
    return render(request, "attack.html", viewer)


@router.get("/attack/{kind}", response_class=HTMLResponse)
async def attack_task(request: Request, kind: str, viewer: Attacker) -> Response:
    if kind not in ("rewrite", "write"):
        raise LookupError(f"no task kind {kind!r}")
    return render(request, "editor.html", viewer, kind=kind)


@router.get("/label", response_class=HTMLResponse)
async def label_page(request: Request, viewer: Labeler) -> Response:
    return render(request, "label.html", viewer)


@router.get("/rate", response_class=HTMLResponse)
async def rate_page(request: Request, viewer: Rater) -> Response:
    return render(request, "rate.html", viewer)


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request, viewer: Admin, session: SessionDep) -> Response:
    from highstakes.studio.routes.admin import dashboard_figures

    return render(request, "admin.html", viewer, figures=dashboard_figures(session, request))


@router.get("/guide", response_class=HTMLResponse)
async def guide(request: Request, viewer: ViewerDep) -> Response:
    from importlib.resources import files

    from markdown_it import MarkdownIt

    text = files("highstakes.data").joinpath("labeling-guide.md").read_text(encoding="utf-8")
    return render(request, "guide.html", viewer, guide=MarkdownIt().render(text))
