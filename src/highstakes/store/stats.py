"""What the admin dashboard shows, and the export of everything the studio holds."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from highstakes.data.records import Example, Label, Provenance, Snippet, Source
from highstakes.store.tables import (
    ClassifierVersion,
    LabelRow,
    Rating,
    RatingPair,
    SnippetRow,
    Task,
    User,
)

LABELED = ("imported", "agreed", "resolved")


def counts_by_source(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(SnippetRow.source, SnippetRow.round, SnippetRow.label_status, func.count())
        .group_by(SnippetRow.source, SnippetRow.round, SnippetRow.label_status)
        .order_by(SnippetRow.round, SnippetRow.source)
    )
    table: dict[tuple[str, int], dict[str, Any]] = {}
    for source, round_, status, n in rows:
        entry = table.setdefault((source, round_), {"source": source, "round": round_, "n": 0})
        entry["n"] += n
        entry[status] = entry.get(status, 0) + n
    return list(table.values())


def attack_cost(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Active minutes per successful adversarial example (a submission that labelers
    agreed is injurious), by attacker and by classifier version, with a 95% bootstrap
    interval over the tasks.  Skipped and failed tasks count in the minutes: they are part
    of what a success costs."""
    from highstakes.evaluation.robustness import attack_cost as cost_of

    rows = session.execute(
        select(Task.user_id, Task.classifier_version_id, Task.active_ms, SnippetRow.label).join(
            SnippetRow, SnippetRow.id == Task.result_id, isouter=True
        )
    ).all()
    names = dict(session.execute(select(User.id, User.username)).all())
    versions = dict(session.execute(select(ClassifierVersion.id, ClassifierVersion.name)).all())

    def summarize(key_of: Any, names_of: dict[Any, str], column: str) -> list[dict[str, Any]]:
        tasks: dict[Any, list[tuple[float, bool]]] = defaultdict(list)
        for row in rows:
            tasks[key_of(row)].append((row.active_ms / 60000, row.label == Label.YES.value))
        out = []
        for key, done in tasks.items():
            minutes, wins = sum(m for m, _ in done), sum(w for _, w in done)
            entry = {
                column: names_of.get(key, "-"),
                "tasks": len(done),
                "successes": wins,
                "active_minutes": round(minutes, 2),
                "minutes_per_success": round(minutes / wins, 2) if wins else None,
                "minutes_per_success_interval": None,
            }
            if wins:
                c = cost_of("", [m for m, _ in done], [w for _, w in done]).as_dict()
                bounds = (c["cost_per_success_lower"], c["cost_per_success_upper"])
                entry["minutes_per_success_interval"] = [_round(b) for b in bounds]
            out.append(entry)
        return out

    return {
        "by_attacker": summarize(lambda r: r.user_id, names, "attacker"),
        "by_version": summarize(lambda r: r.classifier_version_id, versions, "version"),
    }


def _round(value: Any) -> float | None:
    return None if value is None else round(value, 2)  # None: an unbounded end


def label_agreement(session: Session) -> dict[str, Any]:
    """Pairwise percent agreement over snippets with two or more labels."""
    by_snippet: dict[int, list[str]] = defaultdict(list)
    for snippet_id, label in session.execute(select(LabelRow.snippet_id, LabelRow.label)):
        by_snippet[snippet_id].append(label)
    pairs = agree = 0
    for labels in by_snippet.values():
        for a, b in combinations(labels, 2):
            pairs += 1
            agree += a == b
    return {
        "snippets": sum(len(v) >= 2 for v in by_snippet.values()),
        "pairs": pairs,
        "agreement_rate": round(agree / pairs, 4) if pairs else None,
        "labels": sum(len(v) for v in by_snippet.values()),
    }


def rating_summary(session: Session) -> dict[str, Any]:
    counts = dict(
        session.execute(select(Rating.preferred, func.count()).group_by(Rating.preferred)).all()
    )
    decided = counts.get("filtered", 0) + counts.get("unfiltered", 0)
    return {
        "ratings": sum(counts.values()),
        "prefer_unfiltered": counts.get("unfiltered", 0),
        "prefer_filtered": counts.get("filtered", 0),
        "same": counts.get("same", 0),
        "unfiltered_preference_rate": (
            round(counts.get("unfiltered", 0) / decided, 4) if decided else None
        ),
    }


def export_examples(session: Session) -> list[Example]:
    """Every labeled snippet as an Example: imported data with its label, and studio work
    once labelers agreed or the admin resolved it.  Pending work is not exported as data."""
    names = dict(session.execute(select(User.id, User.username)).all())
    labelers: dict[int, list[str]] = defaultdict(list)
    for snippet_id, user_id in session.execute(select(LabelRow.snippet_id, LabelRow.user_id)):
        labelers[snippet_id].append(names.get(user_id, str(user_id)))
    minutes = dict(
        session.execute(
            select(Task.result_id, Task.active_ms).where(Task.result_id.is_not(None))
        ).all()
    )
    versions = dict(session.execute(select(ClassifierVersion.id, ClassifierVersion.name)).all())
    parents = {
        id_: external or f"studio-{id_}"
        for id_, external in session.execute(select(SnippetRow.id, SnippetRow.external_id)).all()
    }
    rows = session.scalars(
        select(SnippetRow).where(SnippetRow.label_status.in_(LABELED)).order_by(SnippetRow.id)
    )
    out = []
    for row in rows:
        out.append(
            Example(
                id=row.external_id or f"studio-{row.id}",
                snippet=Snippet(row.prompt, row.completion),
                label=Label(row.label or Label.UNSURE),
                provenance=Provenance(
                    source=Source(row.source),
                    round=row.round,
                    target_version=versions.get(row.classifier_version_id or -1),
                    author=names.get(row.author_id or -1),
                    labelers=tuple(labelers.get(row.id, ())),
                    seconds_spent=(minutes[row.id] / 1000) if row.id in minutes else None,
                    parent_id=parents.get(row.parent_id) if row.parent_id else None,
                    created_at=row.created_at,
                ),
                genre=row.genre,
                split=row.split,
                tags={"label_status": row.label_status},
            )
        )
    return out


def export_ratings(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Rating, RatingPair, User.username)
        .join(RatingPair, RatingPair.id == Rating.pair_id)
        .join(User, User.id == Rating.user_id)
        .order_by(Rating.id)
    )
    return [
        {
            "pair_id": pair.id,
            "prompt": pair.prompt,
            "filtered": pair.filtered,
            "unfiltered": pair.unfiltered,
            "threshold": pair.threshold,
            "preferred": rating.preferred,
            "rater": username,
            "created_at": rating.created_at.isoformat(),
        }
        for rating, pair, username in rows
    ]
