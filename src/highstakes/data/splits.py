"""Deterministic train/valid/test splits, grouped so that variants of one snippet stay together.

An example's group is the prompt of its oldest known ancestor (following `parent_id`), so
a paraphrase or an attack on a test snippet lands in the test split with it.  The split of
a group is a hash of its normalized prompt and a seed: the same data and seed always give
the same split, and adding examples never moves old ones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from highstakes.data.records import SPLITS, Example

DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)  # train, valid, test


def normalize_prompt(prompt: str) -> str:
    return re.sub(r"\s+", " ", prompt.strip().lower())


def group_key(example: Example, by_id: dict[str, Example]) -> str:
    """The normalized prompt of the example's root ancestor within `by_id`."""
    current, seen = example, {example.id}
    while current.provenance.parent_id and current.provenance.parent_id in by_id:
        parent = by_id[current.provenance.parent_id]
        if parent.id in seen:  # a cycle in bad data: stop rather than loop
            break
        seen.add(parent.id)
        current = parent
    return normalize_prompt(current.prompt)


def hash_split(key: str, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0) -> str:
    """Map a group key to a split with the given fractions."""
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1: {fractions}")
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < fractions[0]:
        return "train"
    if u < fractions[0] + fractions[1]:
        return "valid"
    return "test"


def assign_splits(
    examples: Sequence[Example],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> dict[str, list[Example]]:
    """Split examples by group.  A `split` pinned on any member applies to its whole group."""
    by_id = {e.id: e for e in examples}
    pinned: dict[str, str] = {}
    for e in examples:
        if e.split:
            pinned.setdefault(group_key(e, by_id), e.split)
    out: dict[str, list[Example]] = {name: [] for name in SPLITS}
    for e in examples:
        key = group_key(e, by_id)
        out[pinned.get(key) or hash_split(key, fractions, seed)].append(e)
    return out
