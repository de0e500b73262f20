"""The classifier reads look-alike letters as the letters they look like, and ordinary
text exactly as before."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoTokenizer

from highstakes.data.demo import load_dataset, load_demo, load_external
from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier
from highstakes.models.embedded import minilm_folder
from highstakes.models.normalize import CONFUSABLES, harden, reading_order, reading_positions

PLAIN = "He fell and shattered his wrist; blood ran down the steps."
DISGUISED = [
    PLAIN.replace("o", "\u043e").replace("a", "\u0430"),  # Cyrillic o and a
    PLAIN.replace("wrist", "\uff57\uff52\uff49\uff53\uff54"),  # full-width
    PLAIN.replace("blood", "\U0001d41b\U0001d425\U0001d428\U0001d428\U0001d41d"),  # math bold
    PLAIN.replace("his", "h\u0131s").replace("shattered", "sh\u0430tt\u0435r\u0435d"),
    PLAIN.replace("He", "\u041d\u0395"),  # a Cyrillic H and a Greek E
    PLAIN.replace("blood", "\u0299\u029f\u1d0f\u1d0f\u1d05"),  # small capitals
    PLAIN.replace("down", "d\u0585wn"),  # an Armenian o
    PLAIN.replace("He", "\u13bb\uab7c"),  # Cherokee capital and small letters
    # a Latin alpha, a Coptic gamma for r and a Cyrillic ghe for r, as TextAttack writes
    PLAIN.replace("shattered", "sh\u0251tte\u2c85ed").replace("ran", "\u0433an"),
    # what BERT's own normalizer already drops: zero-width space and joiner, soft hyphen,
    # a combining accent
    PLAIN.replace("wrist", "wr\u200bi\u200dst").replace("blood", "bl\u00adoo\u0301d"),
]


def test_look_alike_letters_are_read_as_plain_letters(tiny_model_dir: Path) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    prompt = "The ladder wobbled under him."
    ids = clf.encode([Snippet(prompt, c) for c in [PLAIN, *DISGUISED]], padding=False)
    assert all(row == ids["input_ids"][0] for row in ids["input_ids"])
    assert len(set(map(float, clf.score([Snippet(prompt, c) for c in [PLAIN, *DISGUISED]])))) == 1
    raw = AutoTokenizer.from_pretrained(minilm_folder())  # without the step: other tokens
    assert raw(DISGUISED[0])["input_ids"] != raw(PLAIN)["input_ids"]


def test_ordinary_text_is_tokenized_exactly_as_before() -> None:
    raw = AutoTokenizer.from_pretrained(minilm_folder())
    hardened = AutoTokenizer.from_pretrained(minilm_folder())
    assert harden(hardened.backend_tokenizer)
    second = Path(__file__).parents[2] / "benchmarks/data/second-external/second-external.jsonl"
    examples = load_demo() + load_external() + load_dataset(second)
    prompts = [e.prompt for e in examples]
    completions = [e.completion for e in examples]
    assert raw(prompts, completions)["input_ids"] == hardened(prompts, completions)["input_ids"]
    offsets = hardened(PLAIN, return_offsets_mapping=True)["offset_mapping"]
    assert offsets == raw(PLAIN, return_offsets_mapping=True)["offset_mapping"]
    # one letter for one: saliency's offsets still point into the text as written
    assert hardened(DISGUISED[0], return_offsets_mapping=True)["offset_mapping"] == offsets


def test_each_look_alike_is_one_other_letter_and_hardening_happens_once(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    assert all(
        len(k) == len(v) == 1 and not k.isascii() and v.isascii() for k, v in CONFUSABLES.items()
    )
    clf = Classifier.from_pretrained(tiny_model_dir)
    assert not harden(clf.tokenizer.backend_tokenizer)  # loading hardened it already
    clf.save(tmp_path / "again")
    again = Classifier.from_pretrained(tmp_path / "again")
    saved = json.loads((tmp_path / "again" / "tokenizer.json").read_text())["normalizer"]
    assert saved["type"] == "Sequence" and saved["normalizers"][-1]["type"] == "BertNormalizer"
    assert again.tokenizer.backend_tokenizer.normalizer.__getstate__() == (
        clf.tokenizer.backend_tokenizer.normalizer.__getstate__()
    )  # not wrapped twice


# "wrist" and "blood" with two letters stored swapped inside a right-to-left override
# (U+202E ... U+202C): shown as written, read swapped by a tokenizer that drops the override
REORDERED = PLAIN.replace("wrist", "w\u202eir\u202cst").replace("blood", "b\u202eol\u202cod")


def test_letters_behind_a_direction_override_are_read_in_the_order_shown(
    tiny_model_dir: Path,
) -> None:
    assert reading_order(REORDERED) == PLAIN
    assert reading_order("\u202eknurts\u202c leg") == "strunk leg"  # a whole word reversed
    # embeddings and isolates do not reorder Latin letters: only their marks go
    assert reading_order("a \u202bhello\u202c b \u2067world\u2069") == "a hello b world"
    clf = Classifier.from_pretrained(tiny_model_dir)
    prompt = "The ladder wobbled under him."
    ids = clf.encode([Snippet(prompt, PLAIN), Snippet(prompt, REORDERED)], padding=False)
    assert ids["input_ids"][0] == ids["input_ids"][1]
    raw = AutoTokenizer.from_pretrained(minilm_folder())  # which drops the marks only
    assert raw(REORDERED)["input_ids"] != raw(PLAIN)["input_ids"]


def test_ordinary_text_keeps_its_order() -> None:
    second = Path(__file__).parents[2] / "benchmarks/data/second-external/second-external.jsonl"
    for e in load_demo() + load_external() + load_dataset(second):
        assert reading_order(e.prompt) is e.prompt and reading_order(e.completion) is e.completion


def test_reading_positions_place_each_character_read_on_the_one_stored() -> None:
    for text in (REORDERED, "\u202eknurts\u202c leg", "cut \u202e(kcab) sih\u202c.", PLAIN):
        shown, positions = reading_positions(text)
        assert shown == reading_order(text)
        assert len(positions) == len(shown) and len(set(positions)) == len(positions)
        for c, i in zip(shown, positions, strict=True):  # brackets in the override mirror
            assert c == text[i] or (c in "()" and text[i] in "()")
    assert reading_positions("\u202eknurts\u202c leg")[1][:6] == [6, 5, 4, 3, 2, 1]
    assert reading_positions(PLAIN) == (PLAIN, list(range(len(PLAIN))))
