"""Snippets, attack tasks, labels and ratings: the studio's work and its results."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from highstakes.data.records import Example, Label, Source
from highstakes.store.accounts import StoreError, get_setting
from highstakes.store.tables import LabelRow, Rating, RatingPair, SnippetRow, Task, User

ATTACK_SOURCES = (Source.TOOL_ASSISTED.value, Source.HUMAN_ATTACK.value)
MAX_TEXT = 2000  # characters per prompt or completion; longer input is refused


def check_text(prompt: str, completion: str) -> None:
    for name, text in (("prompt", prompt), ("completion", completion)):
        if not text.strip():
            raise StoreError(f"{name}: must not be empty")
        if len(text) > MAX_TEXT:
            raise StoreError(f"{name}: at most {MAX_TEXT} characters (got {len(text)})")
        if "\x00" in text:  # PostgreSQL text cannot hold it, and no story needs it
            raise StoreError(f"{name}: contains a NUL character")


def import_examples(session: Session, examples: Iterable[Example]) -> int:
    """Add labeled examples (e.g. the demo set) once; re-importing adds nothing."""
    known = set(session.scalars(select(SnippetRow.external_id)))
    added = 0
    for ex in examples:
        if ex.id in known:
            continue
        session.add(
            SnippetRow(
                external_id=ex.id,
                prompt=ex.prompt,
                completion=ex.completion,
                source=ex.provenance.source.value,
                round=ex.provenance.round,
                label=ex.label.value,
                label_status="imported",
                split=ex.split,
                genre=ex.genre,
            )
        )
        added += 1
    return added


def add_for_labeling(
    session: Session,
    prompt: str,
    completion: str,
    source: str,
    round_: int = 0,
    external_id: str | None = None,
) -> SnippetRow:
    """A snippet that needs labels (a paraphrase, a generator sample, an automatic attack)."""
    check_text(prompt, completion)
    if source not in {item.value for item in Source}:
        raise StoreError(f"source: must be one of {', '.join(item.value for item in Source)}")
    row = SnippetRow(
        external_id=external_id,
        prompt=prompt,
        completion=completion,
        source=source,
        round=round_,
        label_status="pending",
    )
    session.add(row)
    session.flush()
    return row


# -- attack tasks ---------------------------------------------------------------------------


def pick_target(session: Session, user: User, rng: random.Random) -> SnippetRow | None:
    """An injurious snippet to rewrite, from the data or earlier adversarial examples, that
    this attacker has not had yet; held-out test snippets are never shown."""
    seen = select(Task.target_id).where(Task.user_id == user.id, Task.target_id.is_not(None))
    ids = list(
        session.scalars(
            select(SnippetRow.id).where(
                SnippetRow.label == Label.YES.value,
                SnippetRow.split.is_distinct_from("test"),
                SnippetRow.id.not_in(seen),
            )
        )
    )
    return session.get(SnippetRow, rng.choice(ids)) if ids else None


def open_task(
    session: Session, user: User, kind: str, target: SnippetRow | None, version_id: int | None
) -> Task:
    task = Task(
        kind=kind,
        user_id=user.id,
        target_id=target.id if target else None,
        classifier_version_id=version_id,
        draft={"prompt": target.prompt, "completion": target.completion} if target else None,
    )
    session.add(task)
    session.flush()
    return task


def current_task(session: Session, user: User, kind: str) -> Task | None:
    return session.scalar(
        select(Task)
        .where(Task.user_id == user.id, Task.kind == kind, Task.status == "open")
        .order_by(Task.id.desc())
    )


def own_task(session: Session, user: User, task_id: int) -> Task:
    """The user's own task; another attacker's task is reported as missing, not forbidden,
    so ids reveal nothing."""
    task = session.get(Task, task_id)
    if task is None or task.user_id != user.id:
        raise LookupError(f"task {task_id} not found")
    return task


def add_active_time(task: Task, active_ms: int) -> None:
    """Credit active time, never more than the wall time since the last report (a client
    cannot claim idle or invented time)."""
    now = datetime.now(UTC)
    last = task.last_seen_at if task.last_seen_at.tzinfo else task.last_seen_at.replace(tzinfo=UTC)
    wall_ms = int((now - last).total_seconds() * 1000) + 1000
    task.active_ms += max(0, min(active_ms, wall_ms))
    task.last_seen_at = now


def submit_task(
    session: Session,
    task: Task,
    prompt: str,
    completion: str,
    score: float,
    threshold: float,
) -> SnippetRow:
    if task.status != "open":
        raise StoreError(f"task {task.id} is already {task.status}")
    check_text(prompt, completion)
    if score >= threshold:
        raise StoreError(f"score: {score:.4f} is not below the target {threshold:.4f}")
    source = Source.TOOL_ASSISTED if task.kind == "rewrite" else Source.HUMAN_ATTACK
    row = SnippetRow(
        prompt=prompt,
        completion=completion,
        source=source.value,
        author_id=task.user_id,
        parent_id=task.target_id,
        classifier_version_id=task.classifier_version_id,
        score=score,
        label_status="pending",
    )
    session.add(row)
    session.flush()
    task.status, task.result_id, task.draft = "submitted", row.id, None
    return row


# -- labels ---------------------------------------------------------------------------------


def labels_per_snippet(session: Session) -> int:
    return max(1, int(get_setting(session, "labels_per_snippet") or 2))


def next_to_label(session: Session, user: User) -> SnippetRow | None:
    """Oldest pending snippet that the user did not write and has not labeled."""
    mine = select(LabelRow.snippet_id).where(LabelRow.user_id == user.id)
    return session.scalar(
        select(SnippetRow)
        .where(
            SnippetRow.label_status == "pending",
            SnippetRow.author_id.is_distinct_from(user.id),
            SnippetRow.id.not_in(mine),
        )
        .order_by(SnippetRow.id)
        .limit(1)
    )


def add_label(session: Session, user: User, snippet_id: int, label: str) -> SnippetRow:
    """Record one label; with enough labels the snippet is agreed or goes to the admin."""
    if label not in {item.value for item in Label}:
        raise StoreError("label: must be yes, no or unsure")
    row = session.get(SnippetRow, snippet_id)
    if row is None or row.label_status != "pending":
        raise LookupError(f"snippet {snippet_id} does not need labels")
    if row.author_id == user.id:
        raise PermissionError("authors do not label their own snippets")
    if session.scalar(
        select(LabelRow).where(LabelRow.snippet_id == row.id, LabelRow.user_id == user.id)
    ):
        raise StoreError(f"snippet {snippet_id}: you labeled it already")
    session.add(LabelRow(snippet_id=row.id, user_id=user.id, label=label))
    session.flush()
    labels = list(session.scalars(select(LabelRow.label).where(LabelRow.snippet_id == row.id)))
    if len(labels) >= labels_per_snippet(session):
        if len(set(labels)) == 1:
            row.label, row.label_status = labels[0], "agreed"
        else:
            row.label_status = "disputed"
    return row


def disputed(session: Session) -> list[tuple[SnippetRow, list[str]]]:
    rows = session.scalars(select(SnippetRow).where(SnippetRow.label_status == "disputed"))
    return [
        (row, list(session.scalars(select(LabelRow.label).where(LabelRow.snippet_id == row.id))))
        for row in rows
    ]


def resolve(session: Session, snippet_id: int, label: str) -> SnippetRow:
    if label not in {item.value for item in Label}:
        raise StoreError("label: must be yes, no or unsure")
    row = session.get(SnippetRow, snippet_id)
    if row is None or row.label_status != "disputed":
        raise LookupError(f"snippet {snippet_id} is not disputed")
    row.label, row.label_status = label, "resolved"
    return row


# -- ratings --------------------------------------------------------------------------------


def add_pair(
    session: Session, prompt: str, filtered: str, unfiltered: str, threshold: float
) -> RatingPair:
    """A pair to rate; which completion is shown first is drawn here, once, by a system
    random source, so neither the order nor the pair's id tells a rater which was filtered."""
    check_text(prompt, filtered)
    check_text(prompt, unfiltered)
    pair = RatingPair(
        prompt=prompt,
        filtered=filtered,
        unfiltered=unfiltered,
        threshold=threshold,
        filtered_first=secrets.randbelow(2) == 1,
    )
    session.add(pair)
    session.flush()
    return pair


def next_pair(session: Session, user: User) -> RatingPair | None:
    done = select(Rating.pair_id).where(Rating.user_id == user.id)
    return session.scalar(
        select(RatingPair).where(RatingPair.id.not_in(done)).order_by(RatingPair.id).limit(1)
    )


def shown_order(pair: RatingPair) -> tuple[str, str]:
    """The two completions as the rater sees them: (A, B)."""
    if pair.filtered_first:
        return pair.filtered, pair.unfiltered
    return pair.unfiltered, pair.filtered


def add_rating(session: Session, user: User, pair_id: int, choice: str) -> Rating:
    """`choice` is what the rater saw: "a", "b" or "same"."""
    if choice not in ("a", "b", "same"):
        raise StoreError("choice: must be a, b or same")
    pair = session.get(RatingPair, pair_id)
    if pair is None:
        raise LookupError(f"pair {pair_id} not found")
    if session.scalar(select(Rating).where(Rating.pair_id == pair_id, Rating.user_id == user.id)):
        raise StoreError(f"pair {pair_id}: you rated it already")
    preferred = "same"
    if choice != "same":
        preferred = "filtered" if (choice == "a") == pair.filtered_first else "unfiltered"
    rating = Rating(pair_id=pair_id, user_id=user.id, preferred=preferred)
    session.add(rating)
    session.flush()
    return rating
