from __future__ import annotations

import pytest

from highstakes.attacks.base import Candidate
from highstakes.attacks.candidates.lm import LanguageModelProposals
from highstakes.attacks.constraints import (
    FluencyDrop,
    MaxWordsChanged,
    PartOfSpeechAgreement,
    SentenceSimilarity,
    StopwordsProtected,
)
from highstakes.attacks.text import Edit, apply_edit
from highstakes.data.records import Snippet
from highstakes.models.generator import CausalLM

S = Snippet(
    "The knight rode out. The valley was quiet. A dragon slept.",
    "The dragon bit the knight on his arm.",
)


def edited(*edits: Edit) -> Candidate:
    snippet, parent = S, S
    for e in edits:
        parent, snippet = snippet, apply_edit(snippet, e)
    return Candidate(snippet, edits, parent)


def test_max_words_changed() -> None:
    one = edited(Edit("completion", "replace", 2, "licked", "bit"))
    three = edited(
        Edit("completion", "replace", 2, "licked", "bit"),
        Edit("completion", "replace", 7, "leg", "arm"),
        Edit("prompt", "insert", 0, "Then"),
    )
    assert MaxWordsChanged(0.1).check(S, [one, three]) == [True, False]
    assert MaxWordsChanged(0.5).check(S, [one, three]) == [True, True]


def test_stopwords_are_protected_unless_allowed() -> None:
    stop = edited(Edit("completion", "replace", 3, "a", "the"))
    content = edited(Edit("completion", "replace", 2, "licked", "bit"))
    insert = edited(Edit("completion", "insert", 3, "the"))
    assert StopwordsProtected().check(S, [stop, content, insert]) == [False, True, True]
    assert StopwordsProtected(allow=True).check(S, [stop]) == [True]


def test_fluency_drop_bounds_the_latest_edit(tiny_lm: CausalLM) -> None:
    scorer = LanguageModelProposals(tiny_lm)
    same = edited(Edit("completion", "replace", 6, "his", "his"))
    odd = edited(Edit("completion", "replace", 7, "zzqx", "arm"))
    changes = FluencyDrop(scorer).changes([same, odd])
    assert changes[0] == pytest.approx(0.0, abs=1e-4) and changes[1] < changes[0]
    strict = FluencyDrop(scorer, max_drop=-changes[1] / 2)
    assert strict.check(S, [same, odd]) == [True, False]
    assert FluencyDrop(scorer, max_drop=1e9).check(S, [same, odd]) == [True, True]


def test_similarity_floor(tiny_encoder: object) -> None:
    near = edited(Edit("completion", "replace", 7, "leg", "arm"))
    far = Candidate(Snippet("Completely different words here.", "Bananas are yellow."), (), S)
    sims = SentenceSimilarity(tiny_encoder).similarities(S, [S, near.snippet, far.snippet])
    assert sims[0] == pytest.approx(1.0, abs=1e-5)
    assert sims[1] > sims[2]
    floor = float(sims[2] + sims[1]) / 2
    assert SentenceSimilarity(tiny_encoder, floor).check(S, [near, far]) == [True, False]


def test_part_of_speech_with_an_injected_tagger() -> None:
    nouns = {"arm", "leg", "knight", "dragon"}

    def tagger(words: list[str]) -> list[tuple[str, str]]:
        return [
            (w, "NN" if w.lower() in nouns else "VBD" if w.endswith("ed") else "XX") for w in words
        ]

    noun = edited(Edit("completion", "replace", 7, "leg", "arm"))
    verb = edited(Edit("completion", "replace", 7, "jumped", "arm"))
    assert PartOfSpeechAgreement(tagger).check(S, [noun, verb]) == [True, False]
    assert PartOfSpeechAgreement(None).check(S, [noun, verb]) == [True, True]


def test_form_agreement_reads_part_of_speech_and_form() -> None:
    from highstakes.attacks.constraints.grammar import form_agrees

    words = ["Ivan", "fell", "two", "stories", ",", "shattering", "both", "of", "his", "ankles"]
    assert form_agrees(words, 5, "smashing") is True
    assert form_agrees(words, 5, "but") is False  # not a verb
    assert form_agrees(words, 5, "smashed") is False  # not the -ing form
    assert form_agrees(words, 1, "jumped") is True  # "fell": the past of "fall"
    assert form_agrees(words, 1, "falling") is False
    assert form_agrees(words, 8, "her") is None  # a function word: not told here
    prickle = ["and", "a", "prickle", "scratched", "her", "nose"]
    assert form_agrees(prickle, 2, "thorn") is True
    assert form_agrees(prickle, 2, "little") is False  # an adjective, not a noun
    cut = ["Anya", "had", "to", "cut", "him", "loose"]
    assert form_agrees(cut, 3, "chopped") is False  # after "to", only the base form


def test_articles_and_subjects_agree() -> None:
    from highstakes.attacks.constraints.grammar import article_agrees, subject_agrees

    words = ["he", "takes", "a", "knee", "to", "the", "temple"]
    assert article_agrees(words, 3, "kick", "replace") is True
    assert article_agrees(words, 3, "elbow", "replace") is False
    assert article_agrees(words, 2, "an", "replace") is False  # "an knee"
    assert article_agrees(words, 3, "hour", "replace") is False  # "a hour"
    assert article_agrees(words, 1, "hits", "replace") is None
    said = ["it's", "like", "molten", "sugar"]
    assert subject_agrees(said, 0, "he", "replace") is False  # "he like"
    assert subject_agrees(said, 0, "they", "replace") is True
    assert subject_agrees(["then", "he", "cut", "it"], 1, "they", "replace") is None  # also past
