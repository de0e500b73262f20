"""Training on two CPU processes (torchrun, as `accelerate launch` starts it; gloo): data parallel,
gradients averaged, one process writes the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, os, sys
from highstakes.training.trainer import TrainConfig, train
from tests.conftest import make_examples

out, model = sys.argv[1], sys.argv[2]
examples = make_examples(24)
cfg = TrainConfig(model=model, epochs=2, batch_size=8, max_length=64, bf16="off")
result = train(cfg, examples[:64], examples[64:], out)
import torch.distributed as dist
world = dist.get_world_size() if dist.is_initialized() else 1
with open(os.path.join(out, f"rank-{os.environ['RANK']}.json"), "w") as f:
    json.dump({"epochs": len(result.history), "world": world}, f)
"""


def test_two_processes_train_one_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    # torchrun sets up the same process group `accelerate launch` does on several GPUs;
    # on CPUs Accelerate then uses the gloo backend
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_port", "29533", str(script), str(out), str(tiny_model_dir),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((out / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert all(r == {"epochs": 2, "world": 2} for r in ranks)  # one process group of two
    assert (out / "highstakes.json").exists() and (out / "history.json").exists()
    assert not list(out.glob("*.tmp"))
