"""Names and helpers shared by the torch classifier and the torch-free light scorer: what a
saved classifier folder calls its files, which label is the positive one, log-odds, and
where caches go.  This module imports neither torch nor transformers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from highstakes.files import write_atomic

META_FILE = "highstakes.json"  # a saved classifier's threshold, max_length and history
POSITIVE_INDEX = 1  # label id of the positive ("yes", injurious) class


def log_odds(p: np.ndarray | float) -> np.ndarray:
    """log(p / (1 - p)), with p clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.asarray(np.log(p) - np.log1p(-p))


def cache_root() -> Path:
    """$HIGHSTAKES_CACHE, default ~/.cache/highstakes."""
    return Path(os.environ.get("HIGHSTAKES_CACHE", Path.home() / ".cache" / "highstakes"))


def write_threshold(folder: str | Path, threshold: float, **metadata: Any) -> None:
    """Set a saved classifier's threshold (and `metadata` entries) in its `META_FILE`,
    keeping the rest; atomically, so a crash leaves the old file or the new one."""
    path = Path(folder) / META_FILE
    meta = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    meta["threshold"] = threshold
    if metadata:
        meta.setdefault("metadata", {}).update(metadata)
    write_atomic(path, json.dumps(meta, indent=2, default=str))
