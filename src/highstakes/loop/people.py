"""People in the loop, through the studio's database: attack results go to the labeling
queue, and the loop waits until labelers have answered."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from sqlalchemy import select

from highstakes.data.records import Snippet, Source
from highstakes.loop.config import StudioConfig
from highstakes.store.db import make_engine, migrate, session_factory
from highstakes.store.tables import SnippetRow

log = logging.getLogger(__name__)
DONE = ("agreed", "resolved")


def labels_from_studio(
    config: StudioConfig, snippets: Sequence[Snippet], round_: int
) -> dict[str, str]:
    """Queue each snippet once (re-queuing after a restart adds nothing), then wait until
    every one has a consensus label from people."""
    engine = make_engine(config.database_url)
    migrate(engine)
    factory = session_factory(engine)
    ids = {f"loop-r{round_}-{s.key()}": s for s in snippets}
    with factory() as session:
        known = set(
            session.scalars(select(SnippetRow.external_id).where(SnippetRow.external_id.in_(ids)))
        )
        for external_id, s in ids.items():
            if external_id not in known:
                session.add(
                    SnippetRow(
                        external_id=external_id, prompt=s.prompt, completion=s.completion,
                        source=Source.AUTO_ATTACK.value, round=round_, label_status="pending",
                    )
                )  # fmt: skip
        session.commit()
    while True:
        with factory() as session:
            rows = session.execute(
                select(SnippetRow.external_id, SnippetRow.label, SnippetRow.label_status).where(
                    SnippetRow.external_id.in_(ids)
                )
            ).all()
        finished = {str(e): str(label) for e, label, status in rows if status in DONE}
        if len(finished) == len(ids):
            engine.dispose()
            return {ids[e].key(): label for e, label in finished.items()}
        log.warning(
            "round %d: %d of %d attack results labeled in the studio; waiting",
            round_, len(finished), len(ids),
        )  # fmt: skip
        time.sleep(config.poll_seconds)
