"""Training on two CPU processes (torchrun, as `accelerate launch` starts it; gloo): data parallel,
gradients averaged, one process writes the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json, os, sys
from highstakes.training import trainer
from highstakes.training.config import TrainConfig
from highstakes.training.trainer import train
from tests.conftest import make_examples

sums = []  # each process's weights when it evaluates, to show the processes stay in step
scored_metrics = trainer._scored_metrics  # what every epoch's validation goes through
def recording(clf, *args, **kwargs):
    sums.append(sum(float(p.detach().double().sum()) for p in clf.model.parameters()))
    return scored_metrics(clf, *args, **kwargs)
trainer._scored_metrics = recording

out, model, lat = sys.argv[1], sys.argv[2], sys.argv[3] == "lat"
examples = make_examples(24)
cfg = TrainConfig(model=model, epochs=2, batch_size=8, max_length=64, bf16="off", lat=lat)
result = train(cfg, examples[:64], examples[64:], out)
import torch.distributed as dist
world = dist.get_world_size() if dist.is_initialized() else 1
with open(os.path.join(out, f"rank-{os.environ['RANK']}.json"), "w") as f:
    json.dump({"epochs": len(result.history), "world": world, "sums": sums}, f)
"""


def _launch(tiny_model_dir: Path, tmp_path: Path, method: str) -> Path:
    """Train on two processes; the output folder."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    # torchrun sets up the same process group `accelerate launch` does on several GPUs;
    # on CPUs Accelerate then uses the gloo backend
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_port", "29533", str(script), str(out), str(tiny_model_dir), method,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_two_processes_train_one_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = _launch(tiny_model_dir, tmp_path, "plain")
    ranks = [json.loads((out / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert all(r["epochs"] == 2 and r["world"] == 2 for r in ranks)  # one group of two
    assert len(ranks[0]["sums"]) == 2  # weighed at both epochs' validation
    assert ranks[0]["sums"] == ranks[1]["sums"]  # gradients averaged: the same weights
    assert (out / "highstakes.json").exists() and (out / "history.json").exists()
    assert not list(out.glob("*.tmp"))


@pytest.mark.slow
def test_two_processes_train_with_lat(tiny_model_dir: Path, tmp_path: Path) -> None:
    """LAT's hooks sit on the plain model; its training forward goes through the
    data-parallel wrapper, so both processes end with the same weights."""
    from highstakes.models.classifier import Classifier

    out = _launch(tiny_model_dir, tmp_path, "lat")
    saved = Classifier.from_pretrained(out)
    assert saved.metadata["config"]["lat"] is True
    ranks = [json.loads((out / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert all(r["epochs"] == 2 for r in ranks)
    assert ranks[0]["sums"] == ranks[1]["sums"] and ranks[0]["sums"][0] != ranks[0]["sums"][1]
