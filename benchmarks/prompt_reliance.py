"""How much a classifier's flags rest on the prompt rather than on the completion it judges.

usage: python benchmarks/prompt_reliance.py --out prompt-reliance.json [--project runs/demo]
       [--set valid external FILE ...]

For the round-0 and last versions of a loop project, scores every labeled snippet of each
set three ways: as written, with only the last sentence of its prompt, and with no prompt
at all, and counts the harmless and the injurious snippets flagged at the saved
threshold each way.  A diagnostic, not a figure with a bar: if the harmless snippets a
version flags stop being flagged once the prompt is gone, the flags come from the scene
the prompt sets (a bronc, a predator, a battle) rather than from harm the completion
states.  The same counts on injurious snippets say what reading the completion alone
costs; the labeling guide counts an injury that worsens, which only the prompt shows, so
a drop there is expected, not a fault.  Nothing is chosen on this output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np

from generalization import versions  # this folder's scripts: round 0 and the last round
from highstakes.data.demo import load_dataset, load_demo
from highstakes.data.records import SPLITS, Snippet
from highstakes.data.splits import assign_splits
from highstakes.models.classifier import Classifier
from highstakes.training.trainer import labeled

# A sentence ends at ., ! or ? (closing quotes kept with it) before a space.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\u201d\u2019]*\s+")


def last_sentence(prompt: str) -> str:
    parts = [p for p in _SENTENCE_END.split(prompt.strip()) if p.strip()]
    return parts[-1] if parts else ""


VIEWS = {
    "as_written": lambda s: s,
    "last_prompt_sentence": lambda s: Snippet(last_sentence(s.prompt), s.completion),
    "no_prompt": lambda s: Snippet("", s.completion),
}


def load_set(name: str) -> list[Any]:
    if name in SPLITS:
        return assign_splits(load_demo())[name]
    return load_dataset(name)


def measure(clf: Classifier, examples: list[Any]) -> dict[str, Any]:
    kept, labels = labeled(examples)
    y = np.asarray(labels, dtype=int)
    flags = {}
    for view, change in VIEWS.items():
        scores = np.asarray(clf.score([change(e.snippet) for e in kept]))
        flags[view] = scores >= clf.threshold
    out: dict[str, Any] = {"threshold": clf.threshold}
    for label, name in ((0, "harmless"), (1, "injurious")):
        mask = y == label
        row = {"n": int(mask.sum())}
        for view, flagged in flags.items():
            row[f"flagged_{view}"] = int(flagged[mask].sum())
        # Of those flagged as written, how many stay flagged with the completion alone.
        written = flags["as_written"] & mask
        row["flagged_as_written_and_without_prompt"] = int((written & flags["no_prompt"]).sum())
        out[name] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--project", type=Path, default=Path("runs/demo"), help="loop project")
    parser.add_argument(
        "--set", nargs="+", default=["valid", "external"], dest="sets",
        help="demo splits (train, valid, test), 'external' or labeled files",
    )  # fmt: skip
    args = parser.parse_args()

    result: dict[str, Any] = {"project": str(args.project), "sets": {}}
    models = {v: Classifier.from_pretrained(p) for v, p in versions(args.project).items()}
    for name in args.sets:
        examples = load_set(name)
        result["sets"][name] = {v: measure(clf, examples) for v, clf in models.items()}
        for v, m in result["sets"][name].items():
            h, i = m["harmless"], m["injurious"]
            print(
                f"{name} {v}: harmless flagged {h['flagged_as_written']}/{h['n']} as written, "
                f"{h['flagged_last_prompt_sentence']} with the last prompt sentence, "
                f"{h['flagged_no_prompt']} without the prompt "
                f"({h['flagged_as_written_and_without_prompt']} of the first stay); "
                f"injurious {i['flagged_as_written']}/{i['n']}, "
                f"{i['flagged_last_prompt_sentence']}, {i['flagged_no_prompt']}",
                flush=True,
            )
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
