"""People in the loop: automatic results go to the studio's labeling queue and the loop
waits for their labels; human submissions against a version come back as data."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select

from highstakes.data.records import Label, Snippet
from highstakes.loop.config import StudioConfig
from highstakes.loop.people import human_examples, labels_from_studio, serve_version
from highstakes.store import accounts, work
from highstakes.store.db import make_engine, migrate, session_factory
from highstakes.store.tables import SnippetRow, User

PROMPT = "Ann walked to the shed. It was late. She lit a lamp."


def _factory(url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    migrate(engine)
    return session_factory(engine)


def test_loop_waits_for_people_to_label_its_results(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    config = StudioConfig(enabled=True, database_url=url, poll_seconds=0.05)
    factory = _factory(url)
    with factory() as session:
        for name in ("ann", "bob"):
            accounts.create_user(session, name, "long enough", "labeler")
        session.commit()
    snippets = [Snippet(PROMPT, "She cut her hand."), Snippet(PROMPT, "She sat down.")]
    result: dict[str, dict[str, str]] = {}
    waiter = threading.Thread(
        target=lambda: result.update(out=labels_from_studio(config, snippets, 1))
    )
    waiter.start()
    answers = {"She cut her hand.": "yes", "She sat down.": "no"}
    labeled = 0
    while labeled < 4:  # two labelers each label both queued snippets
        with factory() as session:
            for name in ("ann", "bob"):
                user = session.scalar(select(User).where(User.username == name))
                row = work.next_to_label(session, user)
                if row is not None:
                    work.add_label(session, user, row.id, answers[row.completion])
                    labeled += 1
            session.commit()
    waiter.join(10)
    assert not waiter.is_alive()
    assert result["out"] == {s.key(): answers[s.completion] for s in snippets}
    # queuing the same results again (a restarted loop) adds nothing
    labels_from_studio(config, snippets, 1)
    with factory() as session:
        assert len(list(session.scalars(select(SnippetRow).where(SnippetRow.round == 1)))) == 2


def test_human_submissions_against_a_version_come_back(tmp_path: Path, studio_model: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    config = StudioConfig(enabled=True, database_url=url, min_labeled=1, poll_seconds=0.05)
    serve_version(config, "v1", str(studio_model), 0.5, 1)
    factory = _factory(url)
    with factory() as session:
        assert accounts.active_version(session).name == "v1"  # type: ignore[union-attr]
        attacker = accounts.create_user(session, "eve", "long enough", "attacker")
        labeler = accounts.create_user(session, "lab", "long enough", "labeler")
        accounts.set_setting(session, "labels_per_snippet", "1")
        task = work.open_task(session, attacker, "write", None, accounts.active_version(session).id)  # type: ignore[union-attr]
        row = work.submit_task(session, task, PROMPT, "She cut her hand.", 0.1, 0.5)
        work.add_label(session, labeler, row.id, "yes")
        session.commit()
    found = human_examples(config, "v1")
    assert len(found) == 1 and found[0].label is Label.YES
    assert found[0].provenance.author == "eve" and found[0].provenance.target_version == "v1"
