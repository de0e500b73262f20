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
