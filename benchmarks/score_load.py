"""Wall time of one-snippet `highstakes score`, end to end, in fresh processes.

usage: python benchmarks/score_load.py --out benchmarks/results/score-load.json
       [--model runs/demo/round-0/model] [--n 5]

Each run is a new `highstakes score --model M --prompt P --completion C` process: start,
imports, load and score, as a person at a shell waits for it.  Measured on a copy of the
model folder (without any export) so the first run's one-time cost is measured too:

- `first_light_run_s`: the first run with the light scorer: loads torch, exports the model
  to ONNX, checks the export and scores (what a model's first `score` costs);
- `export_s`: `models.light.export` alone, in-process, on a second fresh copy;
- `light_s`: `--n` runs with the export cached (ONNX Runtime, no torch import);
- `torch_s`: `--n` runs with `--no-light` (transformers and torch).

Light and torch runs alternate, so a burst of load from elsewhere falls on both.  The
printed scores of both paths are kept, with their largest difference.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROMPT = "Ivan climbed the ladder to fix the gutter. The wind picked up. He reached the roof."
COMPLETION = "He lost his footing and fell two stories, shattering both of his ankles."
MODEL_FILES = (
    "config.json",
    "highstakes.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
HIGHSTAKES = Path(sys.executable).parent / "highstakes"


def fresh_copy(model: Path, folder: Path) -> Path:
    """The saved classifier's files, without any light export."""
    folder.mkdir(parents=True)
    for name in MODEL_FILES:
        if (model / name).exists():
            shutil.copy2(model / name, folder / name)
    return folder


def timed_score(model: Path, *flags: str) -> tuple[float, float, str]:
    """(wall seconds, printed probability, printed decision) of one fresh process."""
    args = [str(HIGHSTAKES), "score", *flags, "--model", str(model)]
    t0 = time.perf_counter()
    done = subprocess.run(
        [*args, "--prompt", PROMPT, "--completion", COMPLETION],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - t0
    probability, decision = done.stdout.split()[:2]
    return seconds, float(probability), decision


def export_seconds(model: Path) -> float:
    """`models.light.export` alone (the torch load before it not counted), in a new process."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from highstakes.models import light\n"
        "from highstakes.models.classifier import Classifier\n"
        "folder = Path(sys.argv[1])\n"
        "clf = Classifier.from_pretrained(folder)\n"
        "t0 = time.perf_counter()\n"
        "assert light.export(clf, folder, light.model_key(folder)) is not None\n"
        "print(time.perf_counter() - t0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(model)], capture_output=True, text=True, check=True
    )
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("runs/demo/round-0/model"))
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--n", type=int, default=5, help="timed runs per path")
    args = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HIGHSTAKES_CACHE"] = str(Path(tmp) / "cache")  # no export from elsewhere
        model = fresh_copy(args.model, Path(tmp) / "model")
        first_s, first_p, first_decision = timed_score(model)
        assert list(model.glob("light-*.onnx")), "the first run made no export"
        export_s = export_seconds(fresh_copy(args.model, Path(tmp) / "again"))
        light_runs, torch_runs = [], []
        for _ in range(args.n):
            light_runs.append(timed_score(model))
            torch_runs.append(timed_score(model, "--no-light"))
    light_s = [r[0] for r in light_runs]
    torch_s = [r[0] for r in torch_runs]
    scores = [r[1] for r in light_runs + torch_runs] + [first_p]
    result = {
        "model": str(args.model),
        "n": args.n,
        "light_p50_s": float(np.median(light_s)),
        "torch_p50_s": float(np.median(torch_s)),
        "first_light_run_s": first_s,
        "export_s": export_s,
        "light_s": light_s,
        "torch_s": torch_s,
        "probability": {"light": light_runs[0][1], "torch": torch_runs[0][1]},
        "largest_score_difference": float(max(scores) - min(scores)),
        "same_decision": len({r[2] for r in light_runs + torch_runs} | {first_decision}) == 1,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k.endswith(("_s", "decision"))}))


if __name__ == "__main__":
    main()
