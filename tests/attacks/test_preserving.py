"""The label-preserving transformations, each on its own, and the transformation that
combines them.  WordNet is Debian's wordnet-base, which `make test` installs."""

from __future__ import annotations

import json

import pytest

from highstakes.attacks import recipes
from highstakes.attacks.base import Candidate
from highstakes.attacks.candidates.names import SURNAMES, NameSwaps, proper_nouns
from highstakes.attacks.candidates.neutral import NeutralInsertions, sentence_starts
from highstakes.attacks.candidates.typos import CharacterEdits, is_english, typo_variants
from highstakes.attacks.candidates.wordnet import guess_pos, synonyms, wordnet_reader
from highstakes.attacks.lexicon import LEXICON, Group, Lexicon, default_lexicon
from highstakes.attacks.preserving import LabelPreserving, LexiconEdits, WordEdits
from highstakes.attacks.text import Edit, apply_edit, words_of
from highstakes.attacks.transformation import current_index
from highstakes.data.records import Snippet
from highstakes.loop.config import parse_config

S = Snippet(
    "Mara and Tom walked home from the market. It was late.",
    "Mara slipped on the ice and broke her wrist. Tom carried her to the car.",
)


# ---- typos ----------------------------------------------------------------------------------
def test_typo_variants_keep_the_word_readable() -> None:
    variants = typo_variants("shattering")
    assert variants, "a long word has misspellings"
    kinds = {kind for _, kind in variants}
    assert kinds == {"swap", "drop", "repeat", "key"}
    for variant, kind in variants:
        assert variant[0] == "s"  # the first letter is never touched
        assert variant != "shattering" and not is_english(variant)
        assert abs(len(variant) - len("shattering")) <= 1
        if kind == "swap":
            assert sorted(variant) == sorted("shattering")
    assert len({v for v, _ in variants}) == len(variants)
    assert typo_variants("cut") == []  # under four letters
    assert typo_variants("don't") == [] and typo_variants("café") == []
    # four letters: only swaps and doubles, which keep every letter
    assert {kind for _, kind in typo_variants("hand")} <= {"swap", "repeat"}
    assert "met" not in {v for v, _ in typo_variants("meat")}  # another word, not a typo
    assert typo_variants("Knife")[0][0][0] == "K"


def test_character_edits_as_a_candidate_source() -> None:
    source = CharacterEdits()
    index = [w.text for w in words_of(S.completion)].index("slipped")
    proposals = source.propose(S, "completion", index, "replace", 3)
    assert len(proposals) == 3 and all(p.source == "typo" for p in proposals)
    assert source.propose(S, "completion", index, "insert", 3) == []


# ---- WordNet --------------------------------------------------------------------------------
def test_wordnet_reader_reads_the_debian_dictionary() -> None:
    reader = wordnet_reader()
    assert reader.synsets("wrist", "n")[0].lexname() == "noun.body"
    assert "physician" in [x.name() for x in reader.synsets("doctor", "n")[0].lemmas()]


def test_synonyms_keep_sense_part_of_speech_and_form() -> None:
    words = [w.text for w in words_of("The doctors stitched the deep wound quickly.")]
    assert guess_pos(words, 1) == "NOUN" and guess_pos(words, 2) == "VERB"
    assert "physicians" in synonyms(words, 1)  # plural kept
    assert "sewed" in synonyms(words, 2)  # past tense kept
    assert synonyms(words, 0) == []  # function words are never replaced
    assert synonyms(words, 2, min_dominance=1.01) == []  # no sense is that dominant
    words = [w.text for w in words_of("He fell and she screamed.")]
    assert synonyms(words, 0) == []  # "he" is not helium


# ---- names and neutral insertions -----------------------------------------------------------
def test_proper_nouns_and_swaps_are_consistent() -> None:
    names = proper_nouns(S)
    assert names == {"Mara": "female", "Tom": "male"}
    [swap, *_] = NameSwaps().edits(S, "completion", 0)
    swapped = S
    for edit in swap:
        swapped = apply_edit(swapped, edit)
    new = swap[0].text
    assert new in proper_nouns(swapped) and "Mara" not in swapped.prompt + swapped.completion
    assert swapped.prompt.count(new) == 1 and swapped.completion.count(new) == 1
    assert proper_nouns(swapped)[new] == "female"
    assert NameSwaps().edits(S, "completion", 2) == []  # "on" is no name
    possessive = Snippet("It was late.", "The dog bit Pete's hand and Pete yelled.")
    [swap, *_] = NameSwaps().edits(possessive, "completion", 3)
    assert len(swap) == 2 and swap[0].text.endswith("'s")


def test_people_are_not_made_places() -> None:
    """A place cue ("from", "to") does not make a place of a name the snippet also writes
    as a possessive, puts after a title or a given name, or that is a known surname."""
    medic = Snippet(
        "The medic tent smelled of iodine. Corporal Hanley was carried in on a door.",
        "The orderly lifted his fingers from Hanley's wrist.",
    )
    assert proper_nouns(medic) == {"Hanley": "other"}
    [swap, *_] = NameSwaps().edits(medic, "completion", 6)
    assert all(e.text.removesuffix("'s") in SURNAMES for e in swap)
    assert proper_nouns(Snippet("", "He gave up two home runs to Castillo."))["Castillo"] == "other"
    assert proper_nouns(Snippet("", "Marshal Eben Cole rode to Cole's ranch."))["Cole"] == "other"
    assert "Marshal" not in proper_nouns(Snippet("", "They sent for Marshal Cole."))
    mister = Snippet("Mr. Hanley walked in. The dog ran from Hanley.", "It bit Hanley.")
    assert proper_nouns(mister) == {"Hanley": "other"}
    # a title's period ends no sentence: the name after it is a name
    assert "Winifred" in proper_nouns(Snippet("", "Mrs. Winifred Ogunleye fell."))
    goat = Snippet("A goat named Pim came to the bridge.", "The troll snatched at Pim.")
    assert proper_nouns(goat)["Pim"] == "other"
    # places stay places
    assert proper_nouns(Snippet("", "She moved to Lisbon in May."))["Lisbon"] == "place"
    assert proper_nouns(Snippet("", "He lived on Calder Street."))["Calder"] == "place"


def test_neutral_insertions_at_sentence_starts() -> None:
    assert sentence_starts(S.completion, "completion") == [0, 10]
    [opener, *_] = NeutralInsertions().edits(S, "completion", 10)
    edited = apply_edit(S, opener[0])
    assert edited.completion.endswith(", Tom carried her to the car.")  # names keep capitals
    plain = Snippet("It was late.", "The blade slipped and cut his palm open.")
    [opener, *_] = NeutralInsertions().edits(plain, "completion", 0)
    assert ", the blade slipped" in apply_edit(plain, opener[0]).completion
    [sentence, *_] = NeutralInsertions().edits(S, "prompt", 0)
    assert apply_edit(S, sentence[0]).prompt.endswith(S.prompt)
    assert NeutralInsertions().edits(S, "completion", 3) == []  # not a sentence start


# ---- the lexicon ----------------------------------------------------------------------------
def test_lexicon_file_is_well_formed() -> None:
    lexicon = default_lexicon()
    assert len(lexicon) >= 45
    for line in LEXICON.read_text().splitlines():
        row = json.loads(line)
        assert len(row["phrases"]) >= 3
        assert lexicon.find(row["example"]), f"{row['id']}: its example does not match"


def test_lexicon_swaps_keep_victim_and_body_part() -> None:
    group = Group(
        "g", "a bone broken", ("broke {pos} {part}", "fractured {pos} {part}"), ("wrist",)
    )
    lexicon = Lexicon([group])
    [match] = lexicon.find(S.completion)
    assert match.text == "broke her wrist"
    assert lexicon.alternatives(match) == ["fractured her wrist"]
    assert lexicon.find("She broke his arm.") == []  # arm is not one of the group's parts
    longer = Group("h", "cut", ("cut {pos} {part} open", "laid {pos} {part} open"), ("wrist",))
    short = Group("i", "cut", ("cut {pos} {part}", "gashed {pos} {part}"), ("wrist",))
    found = Lexicon([longer, short]).find("He cut his wrist open.")
    assert [m.group.id for m in found] == ["h"]  # not the phrase inside the longer one


# ---- the combined transformation ------------------------------------------------------------
def test_word_positions_follow_edits_of_any_length() -> None:
    # "Mara slipped on the ice and broke her wrist ." -> "Then , Mara ... and fractured a
    # bone in her wrist ."
    phrase = Edit("completion", "replace", 6, "fractured a bone in her wrist", "broke her wrist", 3)
    inserted = Edit("completion", "insert", 0, "Then,")
    c = Candidate(S, (phrase, inserted))
    assert current_index(c, "completion", 5) == 7  # "and", after "Then" ","
    assert current_index(c, "completion", 7) is None  # inside the replaced phrase
    assert current_index(c, "completion", 9) == 9 + 6 - 3 + 2  # "." after the phrase
    assert current_index(c, "prompt", 4) == 4


def test_label_preserving_caps_each_kind_and_never_edits_a_word_twice() -> None:
    lexicon = Lexicon(
        [Group("g", "b", ("broke {pos} {part}", "fractured {pos} {part}"), ("wrist",))]
    )
    transformation = LabelPreserving(
        [WordEdits(CharacterEdits(), "typo", 2), LexiconEdits(lexicon)], {"typo": 1, "lexicon": 1}
    )
    start = Candidate(S)
    slipped = ("completion", 1)
    first = transformation.neighbours(start, slipped)
    assert len(first) == 2 and all(c.edits[0].how == "typo" for c in first)
    assert transformation.neighbours(first[0], slipped) == []  # the same word again
    assert transformation.neighbours(first[0], ("completion", 3)) == []  # typo cap reached
    [swap] = transformation.neighbours(first[0], ("completion", 7))
    assert "and fractured her wrist." in swap.snippet.completion
    assert [e.how for e in swap.edits] == ["typo", "lexicon"]


def test_recipes_declare_whether_they_keep_the_label() -> None:
    assert recipes.PRESERVES_LABEL == {
        "substitution": False,
        "paraphrase": False,
        "typos": True,
        "rewording": True,
    }
    recipes.require_label_preserving("typos")
    with pytest.raises(ValueError, match=r"'substitution'.*studio.*llm-judge"):
        recipes.require_label_preserving("substitution")


def test_loop_config_refuses_kept_on_a_meaning_changing_recipe() -> None:
    with pytest.raises(ValueError, match=r"\[heldout\].*'paraphrase'.*studio"):
        parse_config({"heldout": {"recipe": "paraphrase"}, "label": {"labeler": "kept"}})
    config = parse_config({"heldout": {"recipe": "paraphrase"}, "label": {"labeler": "studio"}})
    assert config.heldout is not None and config.heldout.recipe == "paraphrase"
