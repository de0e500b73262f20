"""Where training keeps its checkpoints, and how one is written.

Training into `OUT` keeps `OUT.checkpoint/` beside it (never inside it, so a saved model
folder carries no optimizer state): `state.pt` holds the model, optimizer, scheduler and
loop state of the last epoch, `best/` the best epoch so far.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from highstakes.models.classifier import Classifier

CHECKPOINT_SUFFIX = ".checkpoint"  # OUT's checkpoints go to OUT.checkpoint/
STATE_FILE = "state.pt"
# where checkpoints lived inside OUT before they moved beside it; removed when OUT is saved
OLD_CHECKPOINTS = ("checkpoint.pt", "best")


def checkpoint_dir(out_dir: str | Path) -> Path:
    """Where training into `out_dir` keeps its checkpoints: the sibling `OUT.checkpoint/`
    (outside the model folder, so a saved model never carries optimizer state)."""
    out_dir = Path(out_dir).resolve()
    return out_dir.with_name(out_dir.name + CHECKPOINT_SUFFIX)


def save_checkpoint(
    path: Path, clf: Classifier, optimizer: Any, scheduler: Any, state: dict[str, Any]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    payload = {
        "model": clf.model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        **state,
    }
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: a crash mid-save keeps the previous checkpoint
