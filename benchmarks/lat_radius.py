"""How strong the latent adversarial perturbation is at each radius, on a trained classifier.

usage: python benchmarks/lat_radius.py --model runs/demo/round-0/model
           --out benchmarks/results/lat-radius.json [--radius 0.005 0.01 0.02 0.05 0.1 0.2]

Takes the first 32 injurious and 32 harmless snippets of the demo's validation split and,
with dropout off, finds LAT's perturbation (training/lat.py, default layers, steps and
step size) at each radius; writes the mean token norm of the perturbed block, the loss
without and with the perturbation, and how many flag decisions (at the model's saved
threshold) it changes.  The radius default in `LatConfig` was chosen from this.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch
import torch.nn.functional as F

from highstakes.data.demo import load_dataset
from highstakes.data.records import Label
from highstakes.data.splits import assign_splits
from highstakes.models.classifier import Classifier
from highstakes.training.lat import LatConfig, chosen_blocks, transformer_blocks, worst_perturbation


def figures(clf: Classifier, logits: torch.Tensor, target: torch.Tensor) -> dict[str, Any]:
    flagged = torch.softmax(logits.float(), -1)[:, 1] >= clf.threshold
    return {
        "loss": float(F.cross_entropy(logits.float(), target)),
        "flagged_injurious": int(flagged[target == 1].sum()),
        "flagged_harmless": int(flagged[target == 0].sum()),
        "flagged": flagged,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--radius", type=float, nargs="+", default=[0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    clf = Classifier.from_pretrained(args.model, max_length=128)  # eval mode: no dropout
    valid = assign_splits(load_dataset("demo"))["valid"]
    chosen = [e for e in valid if e.label is Label.YES][:32]
    chosen += [e for e in valid if e.label is Label.NO][:32]
    batch = dict(clf.encode([e.snippet for e in chosen]))
    target = torch.tensor([int(e.label is Label.YES) for e in chosen])
    block = chosen_blocks(clf.model, ())[0]
    index = list(transformer_blocks(clf.model)).index(block)
    with torch.no_grad():
        out = clf.model(**batch, output_hidden_states=True)
    mask = batch["attention_mask"].bool()
    token_norm = float(out.hidden_states[index + 1].norm(dim=-1)[mask].mean())
    clean = figures(clf, out.logits, target)
    rows = []
    for radius in args.radius:
        config = LatConfig(radius=radius)
        perturbation = worst_perturbation(clf.model, batch, target, config)
        with torch.no_grad(), perturbation.hooked():
            attacked = figures(clf, clf.model(**batch).logits, target)
        changed = float((attacked.pop("flagged") != clean["flagged"]).float().mean())
        rows.append({**asdict(config), **attacked, "decisions_changed_rate": changed})
        print(f"radius {radius}: loss {attacked['loss']:.3f} (clean {clean['loss']:.3f}), "
              f"decisions changed {changed:.3f}", flush=True)  # fmt: skip
    clean.pop("flagged")
    result = {
        "model": str(args.model),
        "threshold": clf.threshold,
        "block": index,
        "n_blocks": len(transformer_blocks(clf.model)),
        "mean_token_norm": token_norm,
        "n_injurious": 32,
        "n_harmless": 32,
        "clean": clean,
        "radii": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
