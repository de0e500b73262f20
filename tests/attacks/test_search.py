"""Search methods and the goal, against a transparent fake classifier: its score is the
share of 'violent' words left, so the best edits are known in advance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from highstakes.attacks.base import (
    BelowThreshold,
    BudgetExhausted,
    Candidate,
    QueryCounter,
)
from highstakes.attacks.constraints import MaxWordsChanged
from highstakes.attacks.search import BeamSearch, GreedySearch
from highstakes.attacks.text import Edit, apply_edit, words_of
from highstakes.data.records import Snippet

VIOLENT = {"stabbed": 0.5, "bleeding": 0.3, "knife": 0.2}
S = Snippet("A. B. C.", "He stabbed the guard with a knife and left him bleeding.")


class FakeClassifier:
    def score(self, snippets: Sequence[Snippet]) -> np.ndarray:
        return np.array(
            [
                sum(
                    v
                    for w, v in VIOLENT.items()
                    if w in s.completion.split() or w + "." in s.completion.split()
                )
                for s in snippets
            ]
        )


@dataclass
class FakeTransformation:
    """Replace any word with 'poked', 'spoon' or 'resting'."""

    def positions(self, original: Snippet, classifier: object) -> list[tuple[str, int]]:
        words = words_of(original.completion)
        ranked = sorted(range(len(words)), key=lambda i: -VIOLENT.get(words[i].text, 0))
        return [("completion", i) for i in ranked]

    def neighbours(self, current: Candidate, position: tuple[str, int]) -> list[Candidate]:
        _, i = position
        original = words_of(current.snippet.completion)[i].text
        out = []
        for word in ("poked", "spoon", "resting"):
            e = Edit("completion", "replace", i, word, original)
            out.append(
                Candidate(apply_edit(current.snippet, e), (*current.edits, e), current.snippet)
            )
        return out


def counter(budget: int) -> QueryCounter:
    return QueryCounter(FakeClassifier(), budget)  # type: ignore[arg-type]


@pytest.mark.parametrize("search", [GreedySearch(), BeamSearch(width=3)])
def test_search_reaches_the_goal_and_counts_queries(search: BeamSearch) -> None:
    c = counter(100)
    result = search.search(S, FakeTransformation(), [], BelowThreshold(0.25), c)
    assert result.succeeded and result.found == [result.best]
    assert result.best.score is not None and result.best.score < 0.25
    assert result.queries == c.used <= 100
    assert result.original_score == pytest.approx(1.0)
    assert result.trace == sorted(result.trace, reverse=True)  # the best only improves


def test_budget_is_respected() -> None:
    c = counter(4)  # the original and one position's three neighbours
    result = GreedySearch().search(S, FakeTransformation(), [], BelowThreshold(0.01), c)
    assert not result.succeeded
    assert result.queries == 4
    with pytest.raises(BudgetExhausted):
        c.score([S])


def test_constraints_can_block_the_goal() -> None:
    result = GreedySearch().search(
        S, FakeTransformation(), [MaxWordsChanged(0.05)], BelowThreshold(0.25), counter(100)
    )
    assert not result.succeeded  # 5% of 15 words rounds to one edit: not enough
    assert len(result.best.edits) <= 1


def test_an_already_passing_snippet_needs_no_queries_beyond_the_first() -> None:
    passing = Snippet("A. B. C.", "He smiled.")
    result = GreedySearch().search(
        passing, FakeTransformation(), [], BelowThreshold(0.5), counter(10)
    )
    assert result.succeeded and result.queries == 1 and result.best.snippet == passing


def test_goal() -> None:
    assert BelowThreshold(0.1).is_goal_complete(0.05)
    assert not BelowThreshold(0.1).is_goal_complete(0.1)


class DecisiveFake(FakeClassifier):
    """The fake with the fast-path call the attacks make, recording each batch's size."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def score_decisive(self, snippets: Sequence[Snippet], threshold: float) -> tuple:
        self.batches.append(len(snippets))
        return self.score(snippets), 0


def test_searches_side_by_side_match_searches_one_at_a_time() -> None:
    from highstakes.attacks.recipes import SearchAttack
    from highstakes.attacks.run import attack_together

    snippets = [
        S,
        Snippet("A. B. C.", "He smiled."),  # passes at once: one query
        Snippet("D.", "She stabbed him and he lay bleeding."),
        Snippet("E.", "The knife stabbed deep, and he was left bleeding on the floor."),
    ]
    attack = SearchAttack("fake", FakeTransformation(), [], GreedySearch())  # type: ignore[arg-type]
    for budget in (4, 100):  # cut off by the budget; room to finish
        alone_clf, together_clf = DecisiveFake(), DecisiveFake()
        alone = [attack.run(alone_clf, s, 0.25, budget) for s in snippets]  # type: ignore[arg-type]
        together = attack_together(
            attack,
            together_clf,  # type: ignore[arg-type]
            snippets,
            0.25,
            budget,
        )
        assert together == alone
        assert sum(together_clf.batches) == sum(alone_clf.batches) == sum(r.queries for r in alone)
        assert len(together_clf.batches) < len(alone_clf.batches)  # fewer, larger batches
    assert [r.succeeded for r in alone] == [True, True, True, True]
