from __future__ import annotations

from dataclasses import replace

import pytest

from highstakes.data.records import Example, Provenance, Snippet
from highstakes.data.splits import assign_splits, hash_split


def split_of(parts: dict[str, list[Example]]) -> dict[str, str]:
    return {e.id: name for name, rows in parts.items() for e in rows}


def test_splits_are_deterministic_and_cover_everything(examples: list[Example]) -> None:
    a, b = assign_splits(examples), assign_splits(list(reversed(examples)))
    assert split_of(a) == split_of(b)
    assert sum(len(v) for v in a.values()) == len(examples)


def test_variants_of_a_prompt_never_straddle(examples: list[Example]) -> None:
    where: dict[str, set[str]] = {}
    for name, rows in assign_splits(examples).items():
        for e in rows:
            where.setdefault(e.prompt, set()).add(name)
    assert all(len(s) == 1 for s in where.values())


def test_prompt_grouping_ignores_case_and_spacing(examples: list[Example]) -> None:
    e = examples[0]
    twin = replace(e, id="twin", snippet=Snippet("  " + e.prompt.upper() + " ", "Other."))
    assert split_of(assign_splits([e, twin]))["twin"] == split_of(assign_splits([e]))[e.id]


def test_children_follow_their_root_ancestor(examples: list[Example]) -> None:
    root = examples[0]
    child = replace(
        root,
        id="child",
        snippet=Snippet("A rewritten prompt. Quite different. Really.", "X."),
        provenance=Provenance(root.provenance.source, parent_id=root.id),
    )
    grandchild = replace(
        child, id="grandchild", provenance=Provenance(root.provenance.source, parent_id="child")
    )
    splits = split_of(assign_splits([root, child, grandchild]))
    assert splits["child"] == splits["grandchild"] == splits[root.id]


def test_pinned_split_wins_for_the_whole_group(examples: list[Example]) -> None:
    group = [e for e in examples if e.prompt == examples[0].prompt]
    natural = split_of(assign_splits(group))[group[0].id]
    other = "test" if natural != "test" else "train"
    pinned = [replace(group[0], split=other), *group[1:]]
    assert set(split_of(assign_splits(pinned)).values()) == {other}


def test_fractions_are_respected_roughly() -> None:
    counts = {"train": 0, "valid": 0, "test": 0}
    for i in range(5000):
        counts[hash_split(f"prompt {i}")] += 1
    assert abs(counts["train"] / 5000 - 0.7) < 0.03
    assert abs(counts["test"] / 5000 - 0.2) < 0.03


def test_bad_fractions_are_refused() -> None:
    with pytest.raises(ValueError, match="summing to 1"):
        hash_split("x", (0.5, 0.2, 0.2))
