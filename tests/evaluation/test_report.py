from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import numpy as np

from highstakes.data.records import Snippet
from highstakes.evaluation.calibration import Rating, ThresholdCalibrator
from highstakes.evaluation.report import (
    Section,
    attack_cost_section,
    cross_round_section,
    detection_section,
    to_jsonable,
    tradeoff_section,
    write_report,
)
from highstakes.evaluation.robustness import (
    ClassifierVersion,
    attack_cost,
    cross_round_matrix,
    detection_curves,
)


def test_report_is_self_contained_with_every_figure(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random(200) < 0.3).astype(int)
    scores = np.clip(0.5 * labels + 0.5 * rng.random(200), 0, 1)
    ratings = [Rating(0.5, "filtered")] * 300 + [Rating(0.05, "unfiltered")] * 300
    cal = ThresholdCalibrator(epsilon=0.05).fit(labels, scores, ratings=ratings)
    versions = [
        ClassifierVersion(f"v{i}", lambda s, i=i: np.full(len(s), 0.3 + 0.4 * i), 0.5)
        for i in range(2)
    ]
    matrix = cross_round_matrix(
        versions, {"v0": [Snippet("p", "c")] * 4, "v1": [Snippet("p", "d")]}
    )
    costs = [attack_cost("v0", [13.0, 12.0]), attack_cost("v1", [200.0], unit="queries")]
    sections = [
        tradeoff_section(cal.summary(), cal.curve_, cal.epsilon),
        detection_section([detection_curves("v0", labels, scores)]),
        cross_round_section(matrix),
        attack_cost_section(costs),
        Section("notes", "a <b>plain</b> note", [{"x": math.nan}]),
    ]
    metrics = {"calibration": cal.summary(), "nan": math.nan, "array": np.arange(3)}
    json_path, html_path = write_report(tmp_path / "out", metrics, sections, "t & t")
    data = json.loads(json_path.read_text())
    assert data["nan"] is None and data["array"] == [0, 1, 2]
    assert data["calibration"]["threshold"] == 0.5
    page = html_path.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "http://" not in page and "https://" not in page  # no external assets
    assert "t &amp; t" in page and "&lt;b&gt;plain&lt;/b&gt;" in page
    assert "0.5 + 0.05" in page


def test_to_jsonable_handles_numpy_and_infinities() -> None:
    value = to_jsonable({"a": np.float32(1.5), "b": [np.inf, -np.inf], 3: np.int64(2)})
    assert value == {"a": 1.5, "b": [None, None], "3": 2}
