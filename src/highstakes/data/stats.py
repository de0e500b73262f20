"""Counts of a data set by label, split, source and genre."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from highstakes.data.records import Example
from highstakes.data.splits import assign_splits


def dataset_stats(examples: Sequence[Example]) -> dict[str, Any]:
    splits = assign_splits(examples)
    by_split = {name: len(rows) for name, rows in splits.items()}
    label_by_split = {
        name: dict(Counter(e.label.value for e in rows)) for name, rows in splits.items()
    }
    return {
        "n_examples": len(examples),
        "n_prompts": len({e.prompt for e in examples}),
        "label": dict(Counter(e.label.value for e in examples)),
        "split": by_split,
        "label_by_split": label_by_split,
        "source": dict(Counter(e.provenance.source.value for e in examples)),
        "genre": dict(Counter(e.genre or "unknown" for e in examples)),
    }
