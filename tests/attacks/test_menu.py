from __future__ import annotations

import pytest

from highstakes.attacks.candidates.embedding import EmbeddingNeighbours
from highstakes.attacks.candidates.lm import LanguageModelProposals
from highstakes.attacks.menu import SubstitutionMenu
from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier
from highstakes.models.generator import CausalLM

S = Snippet(
    "The knight rode out. The valley was quiet. A dragon slept.",
    "The dragon bit the knight on his arm.",
)


def test_menu_scores_every_item_and_sorts(tiny_classifier: Classifier, tiny_lm: CausalLM) -> None:
    sources = [LanguageModelProposals(tiny_lm), EmbeddingNeighbours(tiny_classifier)]
    menu = SubstitutionMenu(tiny_classifier, sources, k_per_source=12)
    items = menu.menu(S, "completion", 2)
    assert len(items) >= 20
    assert {i.source for i in items} == {"lm", "embedding"}
    scores = [i.score for i in items]
    assert scores == sorted(scores)
    again = tiny_classifier.score([i.snippet for i in items])  # fp32; the menu may use bf16
    assert again == pytest.approx(scores, abs=2e-3)
    assert all(i.edit.original == "bit" and i.word in i.snippet.completion for i in items)
    inserts = menu.menu(S, "completion", 2, "insert")
    assert inserts and all(i.edit.kind == "insert" for i in inserts)


def test_menu_steps_pause_twice_and_give_the_menu(
    tiny_classifier: Classifier, tiny_lm: CausalLM
) -> None:
    """Built in steps (proposals, the grammar judge, the classifier's batch), a menu is the
    one `build` gives, and it is kept for the next click."""
    from highstakes.attacks.constraints.grammar import Grammaticality

    proposals = LanguageModelProposals(tiny_lm)
    sources = [proposals, EmbeddingNeighbours(tiny_classifier)]
    menu = SubstitutionMenu(tiny_classifier, sources, grammar=Grammaticality(proposals))
    steps = menu.menu_steps(S, "completion", 2)
    pauses = 0
    while True:
        try:
            next(steps)
            pauses += 1
        except StopIteration as done:
            items = done.value
            break
    assert pauses == 2
    assert menu.peek(S, "completion", 2) is items
    built = menu.build(S, "completion", 2)
    assert [(i.word, i.fluent) for i in items] == [(i.word, i.fluent) for i in built]
    assert [i.score for i in items] == pytest.approx([i.score for i in built], abs=1e-6)
    # cleared, the menus go; with `readings`, the LM source's reading of the text too
    menu.clear()
    assert menu.peek(S, "completion", 2) is None and proposals._cache
    menu.clear(readings=True)
    assert not proposals._cache


def test_menu_refuses_positions_that_do_not_exist(tiny_classifier: Classifier) -> None:
    menu = SubstitutionMenu(tiny_classifier, [EmbeddingNeighbours(tiny_classifier)])
    with pytest.raises(IndexError):
        menu.menu(S, "completion", 99)


def test_menu_offers_the_lexicons_other_phrases(tiny_classifier: Classifier) -> None:
    from highstakes.attacks.lexicon import Group, Lexicon
    from highstakes.attacks.preserving import LexiconEdits

    phrases = ("bit {obj} on {pos} {part}", "sank its teeth into {obj}, on {pos} {part}")
    lexicon = Lexicon([Group("bite", "a bite", phrases, ("arm",))])
    neighbours = [EmbeddingNeighbours(tiny_classifier)]
    menu = SubstitutionMenu(tiny_classifier, neighbours, edit_sources=[LexiconEdits(lexicon)])
    # "bit the knight": no pronoun where {obj} stands, so no phrase is offered
    assert all(i.source != "lexicon" for i in menu.menu(S, "completion", 6))
    bitten = Snippet(S.prompt, "The dragon bit him on his arm.")
    items = menu.menu(bitten, "completion", 6)  # "arm"
    [phrase] = [i for i in items if i.source == "lexicon"]
    assert phrase.snippet.completion == "The dragon sank its teeth into him, on his arm."
    assert phrase.score == pytest.approx(
        float(tiny_classifier.score([phrase.snippet])[0]), abs=2e-3
    )
    assert [i.score for i in items] == sorted(i.score for i in items)


class _Judge:
    """A grammar judge that calls the words in `broken` ungrammatical."""

    def __init__(self, broken: set[str]) -> None:
        self.broken = broken

    def judge(self, snippet: Snippet, edits: list) -> list:
        from highstakes.attacks.constraints.grammar import Judgement

        return [
            Judgement(
                -9.0 if e.text in self.broken else -1.0, None, None, e.text not in self.broken
            )
            for e in edits
        ]


def test_menu_lists_fluent_items_first(tiny_classifier: Classifier) -> None:
    neighbours = [EmbeddingNeighbours(tiny_classifier)]
    plain = SubstitutionMenu(tiny_classifier, neighbours, k_per_source=12).menu(S, "completion", 2)
    broken = {i.word for i in plain[::3]}
    menu = SubstitutionMenu(
        tiny_classifier, neighbours, k_per_source=12, grammar=_Judge(broken), min_items=len(plain)
    )
    items = menu.menu(S, "completion", 2)
    assert len(items) == len(plain)
    fluent = [i for i in items if i.fluent]
    assert items[: len(fluent)] == fluent and {i.word for i in items[len(fluent) :]} == broken
    assert [i.score for i in fluent] == sorted(i.score for i in fluent)
    assert all(i.fluency == (-1.0 if i.fluent else -9.0) for i in items)
    # with enough fluent items the others are left out
    few = SubstitutionMenu(
        tiny_classifier, neighbours, k_per_source=12, grammar=_Judge(broken), min_items=3
    )
    assert all(i.fluent for i in few.menu(S, "completion", 2))


def test_menu_is_cached_by_text_and_place(tiny_classifier: Classifier) -> None:
    menu = SubstitutionMenu(tiny_classifier, [EmbeddingNeighbours(tiny_classifier)], cache_size=2)
    first = menu.menu(S, "completion", 2)
    assert menu.peek(S, "completion", 2) is first and menu.menu(S, "completion", 2) is first
    assert (menu.hits, menu.misses) == (1, 1)
    assert menu.cached(S, "completion", 3) is None
    other = Snippet(S.prompt, "The dragon bit the knight on his leg.")
    menu.menu(other, "completion", 2)
    menu.menu(other, "completion", 3)  # a third menu: the oldest one leaves
    assert menu.peek(S, "completion", 2) is None and menu.misses == 3


def test_grammar_judge_reads_the_edit_with_its_right_context(
    tiny_classifier: Classifier, tiny_lm: CausalLM
) -> None:
    from highstakes.attacks.constraints.grammar import Grammaticality
    from highstakes.attacks.text import Edit

    lm = LanguageModelProposals(tiny_lm)
    judge = Grammaticality(lm)
    same, other = judge.judge(
        S,
        [
            Edit("completion", "replace", 2, "bit", "bit"),
            Edit("completion", "replace", 2, "zzq", "bit"),
        ],
    )
    assert same.fluency == pytest.approx(0.0, abs=1e-4) and same.fluent
    assert other.fluency is not None and other.right_change is not None
    # a shorter left context changes the numbers little, and the original still scores 0
    changes = lm.span_fluency(S, "completion", 2, "replace", ["bit", "cut"], left_window=4)
    assert changes[0].total == pytest.approx(0.0, abs=1e-4)
    # an edit over several words (a lexicon phrase) is read the same way
    [phrase] = judge.judge(S, [Edit("completion", "replace", 1, "wolf bit", "dragon bit", span=2)])
    assert phrase.fluency is not None
    menu = SubstitutionMenu(
        tiny_classifier, [lm, EmbeddingNeighbours(tiny_classifier)], grammar=judge
    )
    items = menu.menu(S, "completion", 2)
    assert items and all(i.fluency is not None or not i.fluent for i in items)
