"""The labeling queue: snippets that need labels, never shown to their own author."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from highstakes.store import work
from highstakes.studio import schemas
from highstakes.studio.deps import Labeler, SessionDep
from highstakes.studio.services import idempotency

router = APIRouter(prefix="/api", tags=["label"])
KeyDep = Annotated[str | None, Depends(idempotency.idempotency_key)]


@router.get(
    "/labels/next", response_model=schemas.ToLabelPublic, responses={204: {"description": "none"}}
)
async def next_snippet(viewer: Labeler, session: SessionDep) -> Any:
    row = work.next_to_label(session, viewer.user)
    if row is None:
        return Response(status_code=204)
    return {"snippet_id": row.id, "prompt": row.prompt, "completion": row.completion}


@router.post("/labels", response_model=schemas.LabelPublic)
async def add_label(
    body: schemas.LabelIn, viewer: Labeler, session: SessionDep, key: KeyDep
) -> Any:
    endpoint = f"label:{body.snippet_id}"
    earlier = idempotency.replay(session, viewer.user, key, endpoint)
    if earlier is not None:
        return earlier
    row = work.add_label(session, viewer.user, body.snippet_id, body.label)
    answer = {"snippet_id": row.id, "label_status": row.label_status}
    return idempotency.commit(session, viewer.user, key, endpoint, answer)
