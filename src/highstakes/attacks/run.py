"""Run an attack over many snippets; measure it; store results as unlabeled examples.

No label is assumed: every result is stored with label `unsure` and the name of the
labeler that may confirm it (a person in the studio, an LLM judge, or a reference
classifier).  Nothing becomes training data until a labeler has answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from highstakes.attacks.base import Candidate, SearchResult
from highstakes.attacks.recipes import Attack
from highstakes.attacks.text import n_words_changed, words_of
from highstakes.data.records import Example, Label, Provenance, Snippet, Source
from highstakes.models.classifier import Classifier

PENDING_LABELERS = ("human", "llm-judge", "reference-classifier")


@dataclass
class AttackRecord:
    example: Example  # the attacked (injurious, correctly flagged) example
    result: SearchResult
    seconds: float


def attack_examples(
    attack: Attack,
    classifier: Classifier,
    examples: Sequence[Example],
    threshold: float,
    budget: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[AttackRecord]:
    """Attack each example in turn (each gets its own query budget)."""
    records = []
    for i, example in enumerate(examples):
        t0 = time.perf_counter()
        result = attack.run(classifier, example.snippet, threshold, budget)
        records.append(AttackRecord(example, result, time.perf_counter() - t0))
        if progress:
            progress(f"{attack.name} attack", i + 1, len(examples))
    return records


def fraction_changed(original: Snippet, edited: Snippet) -> float:
    n = len(words_of(original.prompt)) + len(words_of(original.completion))
    return n_words_changed(original, edited) / max(n, 1)


def attack_metrics(
    records: Sequence[AttackRecord], lm: Any | None = None, encoder: Any | None = None
) -> dict[str, float | int]:
    """Success rate and cost; fluency (whole-snippet LM log-likelihood change, nats) and
    similarity (sentence-embedding cosine) of the successful results when models are given."""
    wins = [r for r in records if r.result.succeeded]
    n, k = len(records), len(wins)
    queries = sum(r.result.queries for r in records)
    out: dict[str, float | int] = {
        "attempted": n,
        "succeeded": k,
        "success_rate": k / n if n else float("nan"),
        "queries": queries,
        "queries_per_success": queries / k if k else float("inf"),
        "wall_seconds": sum(r.seconds for r in records),
        "wall_seconds_per_success": sum(r.seconds for r in records) / k if k else float("inf"),
    }
    if not wins:
        return out
    pairs = [(r.result.original, r.result.found[0].snippet) for r in wins]
    out["mean_fraction_words_changed"] = float(np.mean([fraction_changed(a, b) for a, b in pairs]))
    if lm is not None:
        texts = [f"{s.prompt} {s.completion}" for pair in pairs for s in pair]
        ll = lm.log_likelihood(texts).reshape(-1, 2)
        out["mean_fluency_change"] = float(np.mean(ll[:, 1] - ll[:, 0]))
    if encoder is not None:
        a = encoder.encode([f"{x.prompt} {x.completion}" for x, _ in pairs])
        b = encoder.encode([f"{y.prompt} {y.completion}" for _, y in pairs])
        out["mean_similarity"] = float(np.mean(np.sum(a * b, axis=1)))
    return out


def result_examples(
    records: Sequence[AttackRecord],
    recipe: str,
    target_version: str,
    round_: int = 0,
    pending_labeler: str = "human",
) -> list[Example]:
    """Every successful result as an example labeled `unsure`, awaiting `pending_labeler`."""
    if pending_labeler not in PENDING_LABELERS:
        raise ValueError(f"pending labeler must be one of {', '.join(PENDING_LABELERS)}")
    source = Source.PARAPHRASE if recipe == "paraphrase" else Source.AUTO_ATTACK
    out = []
    for r in records:
        for found in r.result.found:
            out.append(_example(r, found, source, recipe, target_version, round_, pending_labeler))
    return out


def _example(
    r: AttackRecord,
    found: Candidate,
    source: Source,
    recipe: str,
    target_version: str,
    round_: int,
    pending: str,
) -> Example:
    tags = {
        "recipe": recipe,
        "pending_labeler": pending,
        "original_score": f"{r.result.original_score:.6g}",
        "score": f"{found.score:.6g}",
        "queries": str(r.result.queries),
        "edits": "; ".join(e.describe() for e in found.edits),
    }
    provenance = Provenance(
        source=source,
        round=round_,
        target_version=target_version,
        author=f"auto:{recipe}",
        seconds_spent=r.seconds,
        parent_id=r.example.id,
        created_at=datetime.now(UTC),
    )
    return Example(
        id=found.snippet.key(),
        snippet=found.snippet,
        label=Label.UNSURE,
        provenance=provenance,
        genre=r.example.genre,
        tags=tags,
    )
