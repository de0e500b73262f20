"""Does a trained classifier gain from its starting weights mixed back in?  Validation only.

usage: python benchmarks/pretrained_mix.py --model runs/demo/round-0/model --out FILE
       [--base embedded-minilm] [--mix 0 0.05 0.1 0.2 0.3]

For each share `a` every backbone tensor becomes (1 - a) * trained + a * pretrained (the
weight-space interpolation of Wortsman et al., 2022, "Robust fine-tuning of zero-shot
models"); the pooler and the classification head, which the backbone checkpoint has no
trained version of or no head at all, stay as trained.  It writes the validation AUROC
and AUROC over recall >= 0.9 (the figure the demo keeps epochs by) at each share, fp32.

Why: the demo's weight average starts from the starting weights and keeps 0.995^t of them
(4% after round 0's 640 steps).  This measures whether such a share helps the kept model.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from highstakes.data.demo import load_demo
from highstakes.data.splits import assign_splits
from highstakes.evaluation.metrics import auroc, high_recall_auroc
from highstakes.models.classifier import Classifier
from highstakes.training.trainer import labeled
from lockstep import cpu_name  # this folder's scripts: the CPU's model name

KEPT_AS_TRAINED = ("classifier.", "bert.pooler.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="trained classifier folder")
    parser.add_argument("--base", default="embedded-minilm", help="the backbone it started from")
    parser.add_argument("--mix", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    clf = Classifier.from_pretrained(args.model)
    start = Classifier.from_pretrained(args.base).model.state_dict()
    trained = {k: v.clone() for k, v in clf.model.state_dict().items()}
    mixed = {
        k for k, v in trained.items()
        if k in start and v.is_floating_point() and not k.startswith(KEPT_AS_TRAINED)
    }  # fmt: skip
    kept, labels = labeled(assign_splits(load_demo())["valid"])
    rows = []
    for share in args.mix:
        t0 = time.perf_counter()
        state = {k: (1 - share) * v + share * start[k] if k in mixed else v
                 for k, v in trained.items()}  # fmt: skip
        clf.model.load_state_dict(state)
        scores = clf.score([e.snippet for e in kept])
        rows.append({
            "share": share,
            "valid_auroc": auroc(labels, scores),
            "valid_high_recall_auroc": high_recall_auroc(labels, scores),
            "seconds": round(time.perf_counter() - t0, 1),
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    out = {
        "model": args.model,
        "base": args.base,
        "n_mixed_tensors": len(mixed),
        "n_tensors": len(trained),
        "n_valid": int(labels.size),
        "cpu": cpu_name(),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
