"""benchmarks/normalize_cost.py: times both tokenizers on demo pairs and writes them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import load_benchmark


def test_writes_both_timings_for_the_pairs_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_benchmark("normalize_cost")
    out = tmp_path / "cost.json"
    argv = ["normalize_cost.py", "--out", str(out), "--pairs", "16", "--repeats", "2"]
    monkeypatch.setattr(sys, "argv", argv)
    bench.main()
    found = json.loads(out.read_text())
    assert found["pairs"] == 16 and found["repeats"] == 2 and found["look_alikes"] > 100
    assert found["plain_best_ms"] > 0 and found["folding_best_ms"] > 0
    assert found["plain_best_ms"] <= found["plain_median_ms"]
    assert found["reading_order_best_ms"] > 0
