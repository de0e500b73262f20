"""The round's probe head, when the loop config has a `[head]` section: trained on the
generator's states over the round's training data and measured like the classifier."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from highstakes.data.records import Example
from highstakes.evaluation.metrics import external_recall_warning
from highstakes.loop.config import LoopConfig
from highstakes.loop.stages import ProgressFn


def head_round(
    config: LoopConfig,
    lm: Any,
    train_examples: Sequence[Example],
    valid_examples: Sequence[Example],
    test_examples: Sequence[Example],
    external: Sequence[Example],
    out: Path,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Train the round's head on the generator's states (the round's training data), set
    its threshold on validation under the streaming rule, save it in `out`, and measure
    it on the test split and the external set like the classifier."""
    from highstakes.filtering.features import FeatureExtractor
    from highstakes.filtering.head import evaluate_head, train_head

    spec = config.head
    extractor = FeatureExtractor(lm, spec.model, batch_size=spec.batch_size)
    t0 = time.perf_counter()
    head, valid = train_head(
        extractor, spec, train_examples, valid_examples, config.train.target_recall,
        config.train.recall_confidence, config.seed, progress,
    )  # fmt: skip
    head.save(out)
    result: dict[str, Any] = {
        "folder": str(out),
        "layers": head.layers,
        "pooling": head.pooling,
        "threshold": head.threshold_,
        "n_train": head.metadata_["n_train"],
        "valid": valid,
        "test": evaluate_head(head, extractor, test_examples, config.seed),
    }
    if external:
        ext = evaluate_head(head, extractor, external, config.seed)
        warning = external_recall_warning(ext["recall"], head.metadata_["target_recall"])
        if warning:
            ext["warning"] = warning
        result["external"] = ext
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result
