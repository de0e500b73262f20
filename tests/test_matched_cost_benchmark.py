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


def test_successes_by_how_surely_v0_flagged_the_target() -> None:
    matched_cost = load_benchmark("matched_cost")
    v0 = {"a": 0.2, "b": 0.9, "c": 0.6, "d": 0.4}
    records = [
        {"target_id": "a", "flagged": True, "found": {"score": 0.01}},  # edited past
        {"target_id": "b", "flagged": True, "found": None},  # held
        {"target_id": "c", "flagged": False, "found": None},  # passed unedited
        {"target_id": "d", "flagged": True, "found": None},
    ]
    bands = matched_cost.score_bands(records, v0)
    assert bands == {"under_0.5": [1, 2], "at_least_0.5": [1, 2]}
