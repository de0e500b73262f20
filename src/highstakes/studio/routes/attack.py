"""The attacker's API: live score, saliency, menu, and the rewrite and write tasks."""

from __future__ import annotations

import random
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request

from highstakes.data.records import Snippet
from highstakes.store import accounts, work
from highstakes.store.accounts import StoreError
from highstakes.studio import schemas
from highstakes.studio.deps import Attacker, SessionDep
from highstakes.studio.services import idempotency
from highstakes.studio.services.scoring import ScoringService, Tools

router = APIRouter(prefix="/api", tags=["attack"])
KeyDep = Annotated[str | None, Depends(idempotency.idempotency_key)]
TaskId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]


def scoring(request: Request) -> ScoringService:
    service: ScoringService = request.app.state.scoring
    return service


ScoringDep = Annotated[ScoringService, Depends(scoring)]


@router.post("/score", response_model=schemas.ScorePublic)
async def score(
    body: schemas.SnippetIn, viewer: Attacker, session: SessionDep, service: ScoringDep
) -> dict[str, Any]:
    value, tools = await service.score(Snippet(body.prompt, body.completion))
    target = accounts.target_threshold(session)
    return {"score": value, "target_threshold": target, "version": tools.name}


@router.post("/saliency", response_model=schemas.SaliencyPublic)
async def saliency(body: schemas.SnippetIn, viewer: Attacker, service: ScoringDep) -> Any:
    from highstakes.attacks.saliency import word_saliency

    snippet = Snippet(body.prompt, body.completion)

    def run(tools: Tools) -> Any:
        if tools.classifier is None:
            raise StoreError("saliency: this classifier version has none")
        return word_saliency(tools.classifier, snippet)

    found, tools = await service.run_tool(run)
    # the words the attacker is most likely to click next: their menus are computed now,
    # behind any live request, so that a click finds them ready
    salient = sorted((w for w in found if w.word.is_alpha), key=lambda w: -w.score)
    service.prefetch_menus(viewer.user.id, snippet, [(w.word.field, w.word.index) for w in salient])
    words = [
        {
            "field": w.word.field,
            "index": w.word.index,
            "text": w.word.text,
            "start": w.word.start,
            "end": w.word.end,
            "saliency": round(w.score, 4),
        }
        for w in found
    ]
    return {"words": words, "version": tools.name}


@router.post("/menu", response_model=schemas.MenuPublic)
async def menu(body: schemas.MenuIn, viewer: Attacker, service: ScoringDep) -> Any:
    snippet = Snippet(body.prompt, body.completion)
    try:
        items, tools = await service.menu(snippet, body.field, body.index, body.kind)
    except IndexError as exc:
        raise StoreError(f"index: {exc}") from exc
    except LookupError as exc:
        raise StoreError(str(exc)) from exc
    return {
        "items": [
            {
                "word": item.word,
                "source": item.source,
                "score": item.score,
                "fluent": item.fluent,
                "fluency": item.fluency,
                "prompt": item.snippet.prompt,
                "completion": item.snippet.completion,
            }
            for item in items
        ],
        "version": tools.name,
    }


def _task_public(task: Any, session: SessionDep) -> dict[str, Any]:
    draft = task.draft or {"prompt": "", "completion": ""}
    return {
        "task_id": task.id,
        "kind": task.kind,
        "prompt": draft.get("prompt", ""),
        "completion": draft.get("completion", ""),
        "target_threshold": accounts.target_threshold(session),
    }


def start_task(session: SessionDep, viewer: Any, kind: str, service: ScoringService) -> Any:
    """The attacker's open task of this kind, or a new one."""
    task = work.current_task(session, viewer.user, kind)
    if task is None:
        target = None
        if kind == "rewrite":
            rng = random.Random()
            target = work.pick_target(session, viewer.user, rng)
            if target is None:
                raise LookupError("no injurious snippets left to rewrite")
        task = work.open_task(session, viewer.user, kind, target, service.tools.version_id)
        session.commit()
    return task


@router.post("/tasks/{kind}", response_model=schemas.TaskPublic)
async def get_or_open_task(
    kind: Literal["rewrite", "write"], viewer: Attacker, session: SessionDep, service: ScoringDep
) -> Any:
    """The attacker's open task of this kind (its saved draft), or a new one."""
    return _task_public(start_task(session, viewer, kind, service), session)


def _open_task(session: SessionDep, viewer: Any, task_id: int, active_ms: int) -> Any:
    """The user's own open task, credited with the active time the client reports."""
    task = work.own_task(session, viewer.user, task_id)
    if task.status != "open":
        raise StoreError(f"task {task_id} is already {task.status}")
    work.add_active_time(task, active_ms)
    return task


@router.post("/tasks/{task_id}/heartbeat", status_code=204)
async def heartbeat(
    task_id: TaskId, body: schemas.HeartbeatIn, viewer: Attacker, session: SessionDep
) -> None:
    task = _open_task(session, viewer, task_id, body.active_ms)
    if body.prompt or body.completion:
        task.draft = {"prompt": body.prompt, "completion": body.completion}
    session.commit()


@router.post("/tasks/{task_id}/submit", response_model=schemas.SubmissionPublic)
async def submit(
    task_id: TaskId,
    body: schemas.SubmitIn,
    viewer: Attacker,
    session: SessionDep,
    service: ScoringDep,
    key: KeyDep,
) -> Any:
    endpoint = f"submit:{task_id}"
    earlier = idempotency.replay(session, viewer.user, key, endpoint)
    if earlier is not None:
        return earlier
    task = work.own_task(session, viewer.user, task_id)
    if not body.still_injurious:
        raise StoreError("still_injurious: confirm the snippet is still injurious to submit")
    # the server scores again: the client's number is never trusted
    value, _tools = await service.score(Snippet(body.prompt, body.completion))
    threshold = accounts.target_threshold(session)
    if threshold is None:
        raise StoreError("no target threshold is set")
    work.add_active_time(task, body.active_ms)
    row = work.submit_task(session, task, body.prompt, body.completion, value, threshold)
    answer = {"task_id": task.id, "snippet_id": row.id, "score": value, "status": task.status}
    return idempotency.commit(session, viewer.user, key, endpoint, answer)


@router.post("/tasks/{task_id}/skip", status_code=204)
async def skip(
    task_id: TaskId, body: schemas.SkipIn, viewer: Attacker, session: SessionDep
) -> None:
    task = _open_task(session, viewer, task_id, body.active_ms)
    task.status = "skipped"
    session.commit()
