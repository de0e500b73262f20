from __future__ import annotations

import pytest

from highstakes.attacks.text import Edit, apply_edit, n_words_changed, words_of
from highstakes.data.records import Snippet

S = Snippet("The fox ran. It was late. Nobody saw.", "The dog's teeth caught his hand.")


def test_words_keep_contractions_and_split_punctuation() -> None:
    words = words_of(S.completion)
    assert [w.text for w in words] == ["The", "dog's", "teeth", "caught", "his", "hand", "."]
    assert all(S.completion[w.start : w.end] == w.text for w in words)


def test_replace_insert_and_append() -> None:
    assert apply_edit(S, Edit("completion", "replace", 2, "paws", "teeth")).completion == (
        "The dog's paws caught his hand."
    )
    assert apply_edit(S, Edit("completion", "insert", 3, "nearly")).completion == (
        "The dog's teeth nearly caught his hand."
    )
    assert apply_edit(S, Edit("completion", "insert", 7, "Later")).completion.endswith(" Later")
    assert apply_edit(S, Edit("prompt", "replace", 1, "cat", "fox")).prompt.startswith("The cat")


def test_bad_positions_raise() -> None:
    with pytest.raises(IndexError):
        apply_edit(S, Edit("completion", "replace", 99, "x"))
    with pytest.raises(IndexError):
        apply_edit(S, Edit("completion", "insert", 99, "x"))


def test_word_edit_distance() -> None:
    edited = apply_edit(S, Edit("completion", "replace", 2, "paws", "teeth"))
    edited = apply_edit(edited, Edit("prompt", "insert", 0, "Then"))
    assert n_words_changed(S, edited) == 2
    assert n_words_changed(S, S) == 0
