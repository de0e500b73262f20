"""The quality rating task: two completions of one prompt in a fixed random order.  The
rater is never told which one the filter chose."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from highstakes.store import work
from highstakes.studio import schemas
from highstakes.studio.deps import Rater, SessionDep
from highstakes.studio.services import idempotency

router = APIRouter(prefix="/api", tags=["rate"])
KeyDep = Annotated[str | None, Depends(idempotency.idempotency_key)]


@router.get(
    "/ratings/next", response_model=schemas.PairPublic, responses={204: {"description": "none"}}
)
async def next_pair(viewer: Rater, session: SessionDep) -> Any:
    pair = work.next_pair(session, viewer.user)
    if pair is None:
        return Response(status_code=204)
    a, b = work.shown_order(pair)
    return {"pair_id": pair.id, "prompt": pair.prompt, "a": a, "b": b}


@router.post("/ratings", response_model=schemas.RatingPublic)
async def rate(body: schemas.RatingIn, viewer: Rater, session: SessionDep, key: KeyDep) -> Any:
    endpoint = f"rating:{body.pair_id}"
    earlier = idempotency.replay(session, viewer.user, key, endpoint)
    if earlier is not None:
        return earlier
    work.add_rating(session, viewer.user, body.pair_id, body.choice)
    answer = {"pair_id": body.pair_id, "recorded": True}
    return idempotency.commit(session, viewer.user, key, endpoint, answer)
