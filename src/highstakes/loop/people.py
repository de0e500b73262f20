"""People in the loop, through the studio's database: attack results go to the labeling
queue, and the loop waits until labelers have answered."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from sqlalchemy import select

from highstakes.data.records import Example, Snippet, Source
from highstakes.loop.config import StudioConfig
from highstakes.store import work
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
                work.add_for_labeling(
                    session, s.prompt, s.completion, Source.AUTO_ATTACK.value, round_, external_id
                )
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


def serve_version(
    config: StudioConfig, name: str, model_dir: str, threshold: float, round_: int
) -> None:
    """Register this round's classifier in the studio as the active version; a running
    studio notices within seconds and swaps it in (see `studio.main`)."""
    from highstakes.store import accounts

    engine = make_engine(config.database_url)
    migrate(engine)
    with session_factory(engine)() as session:
        known = {v.name: v for v in accounts.list_versions(session)}
        if name not in known:
            accounts.add_version(session, name, model_dir, threshold, round_)
        elif not known[name].active:
            accounts.activate_version(session, known[name])
        session.commit()
    engine.dispose()


def human_examples(config: StudioConfig, version: str) -> list[Example]:
    """Wait until `min_labeled` studio submissions aimed at `version` have consensus labels;
    return every labeled one as data."""
    from highstakes.store.stats import export_examples

    engine = make_engine(config.database_url)
    while True:
        with session_factory(engine)() as session:
            done = [
                e
                for e in export_examples(session)
                if e.provenance.target_version == version
                and e.provenance.source in (Source.HUMAN_ATTACK, Source.TOOL_ASSISTED)
            ]
        if len(done) >= config.min_labeled:
            engine.dispose()
            return done
        log.warning(
            "%s: %d of %d labeled studio submissions; waiting",
            version,
            len(done),
            config.min_labeled,
        )
        time.sleep(config.poll_seconds)
