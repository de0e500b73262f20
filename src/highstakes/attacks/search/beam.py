"""Beam search over word edits in saliency order; greedy search is a beam of width 1.

At each position every state in the beam proposes its neighbours; those that pass all
constraints are scored (each counts as a query) and the `width` lowest-scoring states,
old or new, form the next beam, so a position whose edits do not help is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from highstakes.attacks.base import (
    BudgetExhausted,
    Candidate,
    Constraint,
    Goal,
    QueryCounter,
    SearchResult,
    SearchSteps,
    Transformation,
    drive,
)
from highstakes.attacks.transformation import Position
from highstakes.data.records import Snippet


def passing(
    original: Snippet, candidates: list[Candidate], constraints: Sequence[Constraint]
) -> list[Candidate]:
    """Candidates that pass every constraint (cheap constraints should come first)."""
    for constraint in constraints:
        if not candidates:
            break
        keep = constraint.check(original, candidates)
        candidates = [c for c, ok in zip(candidates, keep, strict=True) if ok]
    return candidates


@dataclass
class BeamSearch:
    width: int = 4

    def search(
        self,
        original: Snippet,
        transformation: Transformation,
        constraints: Sequence[Constraint],
        goal: Goal,
        counter: QueryCounter,
    ) -> SearchResult:
        steps = self.steps(original, transformation, constraints, goal, counter)
        return drive(steps, counter.scores)

    def steps(
        self,
        original: Snippet,
        transformation: Transformation,
        constraints: Sequence[Constraint],
        goal: Goal,
        counter: QueryCounter,
        positions: Sequence[Position] | None = None,
    ) -> SearchSteps:
        """`search`, step by step (`highstakes.attacks.base.SearchSteps`); `positions`, if
        given, are the transformation's positions for `original`, computed beforehand."""
        start = Candidate(original, score=float((yield counter.take([original]))[0]))
        result = SearchResult(original, start.score or 0.0, start, False, 0, [start.score or 0.0])
        if goal.is_goal_complete(result.original_score):
            result.succeeded, result.queries, result.found = True, counter.used, [start]
            return result
        beam = [start]
        if positions is None:
            positions = transformation.positions(original, counter.classifier)
        for position in positions:
            pool: dict[Snippet, Candidate] = {}
            for state in beam:
                for c in transformation.neighbours(state, position):
                    pool.setdefault(c.snippet, c)
            fresh = passing(original, list(pool.values()), constraints)
            if not fresh:
                continue
            try:
                asked = counter.take([c.snippet for c in fresh])
            except BudgetExhausted:
                break
            scores = yield asked
            scored = [replace(c, score=float(s)) for c, s in zip(fresh, scores, strict=False)]
            beam = sorted([*beam, *scored], key=lambda c: c.score or 0.0)[: self.width]
            result.best = beam[0]
            result.trace.append(beam[0].score or 0.0)
            if goal.is_goal_complete(beam[0].score or 0.0):
                result.succeeded = True
                result.found = [beam[0]]
                break
            if counter.left <= 0:
                break
        result.queries = counter.used
        return result


@dataclass
class GreedySearch(BeamSearch):
    """Greedy word-importance search: a beam of width 1."""

    width: int = 1
