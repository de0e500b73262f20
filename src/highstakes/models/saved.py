"""Names and helpers shared by the torch classifier and the torch-free light scorer: what a
saved classifier folder calls its files, which label is the positive one, log-odds, and
where caches go.  This module imports neither torch nor transformers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

META_FILE = "highstakes.json"  # a saved classifier's threshold, max_length and history
POSITIVE_INDEX = 1  # label id of the positive ("yes", injurious) class


def log_odds(p: np.ndarray | float) -> np.ndarray:
    """log(p / (1 - p)), with p clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.asarray(np.log(p) - np.log1p(-p))


def cache_root() -> Path:
    """$HIGHSTAKES_CACHE, default ~/.cache/highstakes."""
    return Path(os.environ.get("HIGHSTAKES_CACHE", Path.home() / ".cache" / "highstakes"))
