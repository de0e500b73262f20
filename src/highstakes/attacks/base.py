"""The four parts of an attack and what passes between them.

- a transformation proposes candidate snippets (`Candidate`), one edit away from a state;
- constraints (`Constraint.check`) reject candidates that drift too far from the original;
- a search method (`SearchMethod.search`) decides which candidates to score and keep;
- a goal (`Goal`) says when a score is low enough.
The classifier is reached only through a `QueryCounter`, which counts every snippet
scored and stops the search when the query budget is spent.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from highstakes.attacks.text import Edit, Field
from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier


@dataclass(frozen=True, slots=True)
class Candidate:
    """A snippet reached from the original by `edits`; `parent` is the snippet before the
    latest edit (whose word indices that edit uses)."""

    snippet: Snippet
    edits: tuple[Edit, ...] = ()
    parent: Snippet | None = None
    source: str = ""  # which candidate source proposed the last edit
    score: float | None = None  # classifier score, once known


class BudgetExhausted(Exception):
    """Raised by `QueryCounter` when a search asks for more scores than its budget."""


@dataclass
class QueryCounter:
    """The classifier as a search sees it: scores snippets and counts every one.

    With a `threshold`, scoring takes the fast path with exact decisions
    (`Classifier.score_decisive`): every pass/flag decision is the one fp32 would make."""

    classifier: Classifier
    budget: int
    used: int = 0
    threshold: float | None = None

    @property
    def left(self) -> int:
        return self.budget - self.used

    def take(self, snippets: Sequence[Snippet]) -> list[Snippet]:
        """As many of `snippets` as the budget allows, counted as used; raise once nothing
        is left.  (`score` is `take`, then `scores`.)"""
        if self.left <= 0:
            raise BudgetExhausted
        taken = list(snippets)[: self.left]
        self.used += len(taken)
        return taken

    def scores(self, snippets: Sequence[Snippet]) -> np.ndarray:
        """The classifier's scores, not counted: for snippets `take` has counted."""
        if self.threshold is None:
            return self.classifier.score(snippets)
        return self.classifier.score_decisive(snippets, threshold=self.threshold)[0]

    def score(self, snippets: Sequence[Snippet]) -> np.ndarray:
        """Scores for as many snippets as the budget allows; raise once nothing is left."""
        return self.scores(self.take(snippets))


class Goal(Protocol):
    def is_goal_complete(self, score: float) -> bool: ...


@dataclass(frozen=True)
class BelowThreshold:
    """Succeeded once the classifier's score is under the threshold (the filter accepts)."""

    threshold: float

    def is_goal_complete(self, score: float) -> bool:
        return score < self.threshold


class Constraint(Protocol):
    """Keeps candidates that stay close enough to the original; checks a batch at once."""

    name: str

    def check(self, original: Snippet, candidates: Sequence[Candidate]) -> list[bool]: ...


class Transformation(Protocol):
    """Proposes one-edit neighbours of a candidate at the given word positions."""

    def neighbours(self, current: Candidate, position: tuple[Field, int]) -> list[Candidate]: ...

    def positions(self, original: Snippet, classifier: Classifier) -> list[tuple[Field, int]]: ...


@dataclass
class SearchResult:
    original: Snippet
    original_score: float
    best: Candidate
    succeeded: bool
    queries: int
    trace: list[float] = field(default_factory=list)  # best score after each step
    found: list[Candidate] = field(default_factory=list)  # every candidate that met the goal


# A search run step by step: it yields the snippets it wants scored (already counted on
# its `QueryCounter`), is sent their scores, and returns its result.  `drive` runs one
# alone; `highstakes.attacks.run.attack_together` runs many, scoring their requests in one
# batch.
SearchSteps = Generator[list[Snippet], np.ndarray, SearchResult]


def drive(steps: SearchSteps, scores: Callable[[Sequence[Snippet]], np.ndarray]) -> SearchResult:
    """Run a search's steps to the end, scoring each request with `scores`."""
    try:
        request = next(steps)
        while True:
            request = steps.send(scores(request))
    except StopIteration as done:
        return done.value


class SearchMethod(Protocol):
    """Runs as steps (`SearchSteps`): alone with `drive`, or beside others."""

    def steps(
        self,
        original: Snippet,
        transformation: Transformation,
        constraints: Sequence[Constraint],
        goal: Goal,
        counter: QueryCounter,
        positions: Sequence[tuple[Field, int]] | None = None,
    ) -> SearchSteps: ...
