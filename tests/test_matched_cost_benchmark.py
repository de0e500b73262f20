"""benchmarks/matched_cost.py: a later version's threshold flags exactly as many harmless
validation snippets as v0 does, and the comparison with the loop's records ignores only
their timing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import load_benchmark


def test_the_matched_threshold_flags_exactly_n_negatives() -> None:
    matched_cost = load_benchmark("matched_cost")
    negatives = np.array([0.02, 0.9, 0.4, 0.07, 0.6, 0.3, 0.05])
    for n in range(len(negatives) + 1):
        t = matched_cost.matched_threshold(negatives, n)
        assert int((negatives >= t).sum()) == n, n
    assert matched_cost.matched_threshold(negatives, 2) == pytest.approx(0.5)  # 0.6 / 0.4


def test_records_match_but_for_their_seconds(tmp_path: Path) -> None:
    matched_cost = load_benchmark("matched_cost")
    rows = [{"target_id": "a", "found": None, "seconds": 1.0}, {"target_id": "b", "found": {}}]
    ours, loop = tmp_path / "ours.jsonl", tmp_path / "loop.jsonl"
    ours.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rows[0]["seconds"] = 2.5
    loop.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert matched_cost.same_records(ours, loop)
    rows[1]["found"] = None
    loop.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert not matched_cost.same_records(ours, loop)
    assert not matched_cost.same_records(ours, tmp_path / "missing.jsonl")
