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

from highstakes.attacks.base import Candidate, QueryCounter, SearchResult
from highstakes.attacks.recipes import Attack, SearchAttack
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
    together: int = 1,
) -> list[AttackRecord]:
    """Attack each example with its own query budget, `together` at a time where the attack
    searches (`attack_many`; a record's seconds are then its group's per example)."""
    step = together if isinstance(attack, SearchAttack) else 1
    records: list[AttackRecord] = []
    for start in range(0, len(examples), step):
        group = examples[start : start + step]
        t0 = time.perf_counter()
        results = attack_many(attack, classifier, [e.snippet for e in group], threshold, budget)
        seconds = (time.perf_counter() - t0) / len(group)
        records.extend(AttackRecord(e, r, seconds) for e, r in zip(group, results, strict=True))
        if progress:
            progress(f"{attack.name} attack", len(records), len(examples))
    return records


def attack_many(
    attack: Attack,
    classifier: Classifier,
    snippets: Sequence[Snippet],
    threshold: float,
    budget: int,
    before_each: Callable[[int], None] | None = None,
) -> list[SearchResult]:
    """Each snippet attacked with its own budget: side by side where the attack searches
    (`attack_together`), else one after another, calling `before_each(i)` before snippet
    i (the loop seeds sampling attacks there, so a rerun redoes a snippet's draws)."""
    if isinstance(attack, SearchAttack):
        return attack_together(attack, classifier, snippets, threshold, budget)
    results = []
    for i, snippet in enumerate(snippets):
        if before_each:
            before_each(i)
        results.append(attack.run(classifier, snippet, threshold, budget))
    return results


def attack_together(
    attack: SearchAttack,
    classifier: Classifier,
    snippets: Sequence[Snippet],
    threshold: float,
    budget: int,
) -> list[SearchResult]:
    """Attack several snippets at once: each runs its own search with its own budget, as
    `attack.run` would, and at each step the snippets all of them ask for are scored in one
    batch.  A search asks for a few snippets a step (a typo recipe, up to six), and a CPU
    scores a batch of 48 about twice as fast per snippet as a batch of 3.  Where the
    transformation has `positions_many`, the snippets' saliency is computed in batches
    too.  Decisions are fp32's either way (`Classifier.score_decisive`); the fast scores
    themselves may differ from one-at-a-time runs in their last bits, as the batches
    differ."""
    counters = [QueryCounter(classifier, budget, threshold=threshold) for _ in snippets]
    many = getattr(attack.transformation, "positions_many", None)  # saliency in batches too
    positions = many(snippets, classifier) if many else [None] * len(snippets)
    running = {i: attack.steps(counters[i], s, positions[i]) for i, s in enumerate(snippets)}
    results: dict[int, SearchResult] = {}
    asked: dict[int, list[Snippet]] = {}

    def advance(i: int, scores: np.ndarray | None) -> None:
        try:
            asked[i] = running[i].send(scores)  # type: ignore[arg-type]  # None: the first step
        except StopIteration as done:
            results[i] = done.value
            del running[i]

    for i in list(running):
        advance(i, None)
    while asked:
        requests = dict(asked)
        asked.clear()
        scores = counters[0].scores([s for request in requests.values() for s in request])
        at = 0
        for i, request in requests.items():
            advance(i, scores[at : at + len(request)])
            at += len(request)
    return [results[i] for i in range(len(snippets))]


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
    from highstakes.evaluation.robustness import attack_cost

    cost = attack_cost(
        "", [r.result.queries for r in records], [r.result.succeeded for r in records]
    )
    # a 95% bootstrap over the targets; the upper end is inf when a resample has no success
    out["queries_per_success_lower"] = cost.cost_per_success_lower
    out["queries_per_success_upper"] = cost.cost_per_success_upper
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


def attempt_records(
    records: Sequence[AttackRecord], recipe: str, target_version: str
) -> list[dict[str, Any]]:
    """One line per attacked target, the failed searches included: what an exact cost per
    success needs once people have confirmed the results (`evaluate --attempts`).
    `found` holds the keys of the results, which are their examples' ids."""
    return [
        {
            "target_id": r.example.id,
            "target_version": target_version,
            "recipe": recipe,
            "queries": int(r.result.queries),
            "seconds": round(r.seconds, 3),
            "found": [c.snippet.key() for c in r.result.found],
        }
        for r in records
    ]


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
