"""The admin's API: dashboard figures, users and their login lockouts, settings,
classifier versions, disputed labels, new work for the queues, and export of everything."""

from __future__ import annotations

import asyncio
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request, Response

from highstakes.store import accounts, stats, work
from highstakes.store.accounts import StoreError
from highstakes.studio import schemas
from highstakes.studio.deps import Admin, SessionDep
from highstakes.studio.services import login_throttle

router = APIRouter(prefix="/api/admin", tags=["admin"])


def lockout_figures(session: SessionDep, request: Request) -> list[dict[str, Any]]:
    """Usernames over the failed-login limit now, each with when its lock ends."""
    now = request.app.state.clock()
    return [
        {
            "username": lock.username,
            "n_failures": lock.n_failures,
            "locked_until": lock.locked_until,
            "seconds_left": max(1, math.ceil((lock.locked_until - now).total_seconds())),
            "account_exists": lock.account_exists,
        }
        for lock in login_throttle.lockouts(session, request.app.state.settings, now)
    ]


def dashboard_figures(session: SessionDep, request: Request) -> dict[str, Any]:
    service = request.app.state.scoring
    return {
        "serving_version": service.tools.name,
        "target_threshold": accounts.target_threshold(session),
        "labels_per_snippet": work.labels_per_snippet(session),
        "versions": [
            {
                "id": v.id,
                "name": v.name,
                "round": v.round,
                "threshold": v.threshold,
                "active": v.active,
            }
            for v in accounts.list_versions(session)
        ],
        "counts": stats.counts_by_source(session),
        "attack_cost": stats.attack_cost(session),
        "label_agreement": stats.label_agreement(session),
        "ratings": stats.rating_summary(session),
        "disputed": [
            {
                "snippet_id": row.id,
                "prompt": row.prompt,
                "completion": row.completion,
                "labels": labels,
            }
            for row, labels in work.disputed(session)
        ],
        "lockouts": lockout_figures(session, request),
    }


@router.get("/dashboard")
async def dashboard(viewer: Admin, session: SessionDep, request: Request) -> dict[str, Any]:
    return dashboard_figures(session, request)


@router.get("/users", response_model=list[schemas.UserPublic])
async def users(viewer: Admin, session: SessionDep) -> Any:
    return [
        {"id": u.id, "username": u.username, "role": u.role} for u in accounts.list_users(session)
    ]


@router.post("/users", response_model=schemas.UserPublic, status_code=201)
async def add_user(body: schemas.UserIn, viewer: Admin, session: SessionDep) -> Any:
    user = accounts.create_user(session, body.username, body.password, body.role)
    session.commit()
    return {"id": user.id, "username": user.username, "role": user.role}


@router.get("/lockouts", response_model=list[schemas.LockoutPublic])
async def lockouts(viewer: Admin, session: SessionDep, request: Request) -> Any:
    """Usernames locked out by failed logins, and when each lock ends."""
    return lockout_figures(session, request)


@router.post("/unlock", response_model=schemas.UnlockPublic)
async def unlock(
    body: schemas.UnlockIn, viewer: Admin, session: SessionDep, request: Request
) -> Any:
    """Clear a username's counted failed logins, which ends its lock (a lock on the client
    address, if any, stays)."""
    n_cleared = login_throttle.unlock(
        session,
        request.app.state.settings,
        body.username,
        viewer.user.username,
        request.app.state.clock(),
    )
    session.commit()
    return {"username": body.username, "n_cleared": n_cleared}


@router.post("/settings", status_code=204)
async def settings(body: schemas.SettingsIn, viewer: Admin, session: SessionDep) -> None:
    if body.target_threshold is not None:
        accounts.set_setting(session, "target_threshold", repr(body.target_threshold))
    if body.labels_per_snippet is not None:
        accounts.set_setting(session, "labels_per_snippet", str(body.labels_per_snippet))
    session.commit()


@router.post("/versions", response_model=schemas.VersionPublic, status_code=201)
async def add_version(
    body: schemas.VersionIn, viewer: Admin, session: SessionDep, request: Request
) -> Any:
    """Register a trained classifier folder and serve it from the next score batch on."""
    from highstakes.studio.services.scoring import load_tools

    if not (Path(body.path) / "config.json").is_file():
        raise StoreError(f"path: {body.path} is not a classifier folder (no config.json)")
    if any(v.name == body.name for v in accounts.list_versions(session)):
        raise StoreError(f"name: classifier version {body.name!r} exists")
    lm = request.app.state.lm
    tools = await asyncio.to_thread(load_tools, body.path, None, body.name, lm)
    version = accounts.add_version(
        session, body.name, body.path, body.threshold or tools.threshold, body.round
    )
    session.commit()
    tools.version_id, tools.threshold = version.id, version.threshold
    request.app.state.scoring.swap(tools)
    return {
        "id": version.id,
        "name": version.name,
        "round": version.round,
        "threshold": version.threshold,
        "active": version.active,
    }


@router.post("/resolve", response_model=schemas.LabelPublic)
async def resolve(body: schemas.ResolveIn, viewer: Admin, session: SessionDep) -> Any:
    row = work.resolve(session, body.snippet_id, body.label)
    session.commit()
    return {"snippet_id": row.id, "label_status": row.label_status}


@router.post("/snippets", response_model=schemas.ToLabelPublic, status_code=201)
async def add_snippet(body: schemas.NewSnippetIn, viewer: Admin, session: SessionDep) -> Any:
    """Queue a snippet for labeling (a paraphrase, a generator sample, an automatic attack)."""
    row = work.add_for_labeling(session, body.prompt, body.completion, body.source, body.round)
    session.commit()
    return {"snippet_id": row.id, "prompt": row.prompt, "completion": row.completion}


@router.post("/pairs", status_code=201)
async def add_pair(body: schemas.PairIn, viewer: Admin, session: SessionDep) -> dict[str, int]:
    pair = work.add_pair(session, body.prompt, body.filtered, body.unfiltered, body.threshold)
    session.commit()
    return {"pair_id": pair.id}


@router.get("/export")
async def export(
    viewer: Admin,
    session: SessionDep,
    what: Literal["examples", "ratings"] = "examples",
    format: Literal["jsonl", "parquet"] = "jsonl",
) -> Response:
    """Everything labeled so far (or all ratings) as a download, at any time."""
    if what == "ratings":
        rows = stats.export_ratings(session)
        if format == "jsonl":
            body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            sink = io.BytesIO()
            pq.write_table(pa.Table.from_pylist(rows), sink)
            body = sink.getvalue()
    else:
        from highstakes.data.io import write_examples

        with tempfile.TemporaryDirectory() as tmp:
            path = write_examples(Path(tmp) / f"studio.{format}", stats.export_examples(session))
            body = path.read_bytes()
    media = "application/x-ndjson" if format == "jsonl" else "application/vnd.apache.parquet"
    headers = {"Content-Disposition": f'attachment; filename="studio-{what}.{format}"'}
    return Response(body, media_type=media, headers=headers)
